package engine

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/openrender/openrender/store"
)

// APIKeyPrefix starts every API key, as in the hosted services.
const APIKeyPrefix = "ffsk_"

// DefaultAccount is the account that keys given on the command line belong to.
const DefaultAccount = "default"

// NewAPIKey returns a fresh random key: "ffsk_" and 64 lowercase hex digits.
func NewAPIKey() string {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("engine: no randomness for an API key: " + err.Error())
	}
	return APIKeyPrefix + hex.EncodeToString(b[:])
}

// ValidAPIKey reports whether key has the shape of an API key.
func ValidAPIKey(key string) bool {
	if len(key) != len(APIKeyPrefix)+64 || key[:len(APIKeyPrefix)] != APIKeyPrefix {
		return false
	}
	for _, c := range key[len(APIKeyPrefix):] {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// HashAPIKey is how keys are stored. A key carries 256 random bits, so a
// plain SHA-256 can't be brute-forced, and it keeps authentication fast.
func HashAPIKey(key string) []byte {
	h := sha256.Sum256([]byte(key))
	return h[:]
}

// AddAPIKey gives key to the named account, creating the account if needed.
// It needs only the store, so tools can manage keys without an Engine.
func AddAPIKey(ctx context.Context, accounts store.Accounts, accountName, key string, now time.Time) (*store.Account, error) {
	if !ValidAPIKey(key) {
		return nil, fmt.Errorf("engine: an API key is %q followed by 64 lowercase hex digits", APIKeyPrefix)
	}
	if accountName == "" {
		accountName = DefaultAccount
	}
	acct, err := accounts.EnsureAccount(ctx, accountName, now)
	if err != nil {
		return nil, err
	}
	if err := accounts.AddAPIKey(ctx, acct.ID, HashAPIKey(key), now); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return nil, fmt.Errorf("engine: that API key already belongs to another account")
		}
		return nil, err
	}
	return acct, nil
}

// Authenticate returns the account an API key belongs to, or ErrUnauthorized.
func (e *Engine) Authenticate(ctx context.Context, key string) (*store.Account, error) {
	if !ValidAPIKey(key) {
		return nil, ErrUnauthorized
	}
	acct, err := e.cfg.Store.AccountByKeyHash(ctx, HashAPIKey(key))
	if errors.Is(err, store.ErrNotFound) {
		return nil, ErrUnauthorized
	}
	return acct, err
}
