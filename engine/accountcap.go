package engine

import (
	"context"
	"sync"
	"time"
)

// accountWaiters holds the commands this process's workers could not claim
// because their account was at Config.MaxRunningPerAccount. They stay
// QUEUED in the store; when one of the account's commands finishes here,
// the oldest waiter is queued again at once. Commands held back by another
// engine process's runs are found by the recovery sweep instead (within
// SweepInterval), since this process does not see those finish.
type accountWaiters struct {
	mu        sync.Mutex
	byAccount map[string][]string
	waiting   map[string]bool
}

func newAccountWaiters() *accountWaiters {
	return &accountWaiters{byAccount: map[string][]string{}, waiting: map[string]bool{}}
}

// add records that command id of account waits for a free place.
func (w *accountWaiters) add(account, id string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.waiting[id] {
		return
	}
	w.waiting[id] = true
	w.byAccount[account] = append(w.byAccount[account], id)
}

// next removes and returns the account's oldest waiting command.
func (w *accountWaiters) next(account string) (string, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	ids := w.byAccount[account]
	if len(ids) == 0 {
		return "", false
	}
	id := ids[0]
	if len(ids) == 1 {
		delete(w.byAccount, account)
	} else {
		w.byAccount[account] = ids[1:]
	}
	delete(w.waiting, id)
	return id, true
}

// deferForAccount notes a command whose claim was refused because its
// account was busy.
func (e *Engine) deferForAccount(ctx context.Context, id string) {
	cmd, err := e.cfg.Store.GetCommand(ctx, id)
	if err != nil {
		return // the sweep will queue it again
	}
	e.log.Debug("account at its limit of running commands; the command waits", "command_id", id,
		"account_id", cmd.AccountID, "max_running_per_account", e.cfg.MaxRunningPerAccount)
	e.waiters.add(cmd.AccountID, id)
}

// wakeAccount queues the account's oldest waiting command: one of its
// commands just stopped running here, so it has a free place.
func (e *Engine) wakeAccount(account string) {
	id, ok := e.waiters.next(account)
	if !ok {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := e.cfg.Queue.Push(ctx, id); err != nil {
		e.log.Warn("could not queue a waiting command; the sweep will", "command_id", id, "account_id", account, "err", err)
	}
}

// maxRunningPerAccount is the cap passed to the store; 0 is none.
func (e *Engine) maxRunningPerAccount() int {
	if e.cfg.MaxRunningPerAccount < 0 {
		return 0
	}
	return e.cfg.MaxRunningPerAccount
}
