package engine

import (
	"context"
	"errors"

	"github.com/openrender/openrender/api"
	"github.com/openrender/openrender/store"
)

// CommandInfo is a command with the files it stored, by output alias.
type CommandInfo struct {
	*store.Command
	Files map[string]*store.File
}

// Get returns one of the account's commands. Another account's command is
// ErrNotFound, exactly like a missing one.
func (e *Engine) Get(ctx context.Context, accountID, id string) (*CommandInfo, error) {
	c, err := e.cfg.Store.GetCommand(ctx, id)
	if errors.Is(err, store.ErrNotFound) || (err == nil && c.AccountID != accountID) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	info := &CommandInfo{Command: c}
	if c.Status.Final() {
		files, err := e.cfg.Store.CommandFiles(ctx, c.ID)
		if err != nil {
			return nil, err
		}
		info.Files = filesByAlias(files)
	}
	return info, nil
}

// ListQuery selects a page of commands.
type ListQuery struct {
	Status store.Status // empty: any
	Limit  int
	Offset int
}

// List returns a page of the account's commands, newest first.
func (e *Engine) List(ctx context.Context, accountID string, q ListQuery) ([]*CommandInfo, error) {
	cmds, err := e.cfg.Store.ListCommands(ctx, store.CommandQuery{
		AccountID: accountID, Status: q.Status, Limit: q.Limit, Offset: q.Offset,
	})
	if err != nil {
		return nil, err
	}
	infos := make([]*CommandInfo, len(cmds))
	var finished []string
	for i, c := range cmds {
		infos[i] = &CommandInfo{Command: c}
		if c.Status.Final() {
			finished = append(finished, c.ID)
		}
	}
	if len(finished) > 0 {
		// One query for the whole page's files, not one per command.
		files, err := e.cfg.Store.CommandFiles(ctx, finished...)
		if err != nil {
			return nil, err
		}
		byCommand := map[string][]*store.File{}
		for _, f := range files {
			byCommand[f.CommandID] = append(byCommand[f.CommandID], f)
		}
		for _, info := range infos {
			info.Files = filesByAlias(byCommand[info.ID])
		}
	}
	return infos, nil
}

func filesByAlias(files []*store.File) map[string]*store.File {
	m := make(map[string]*store.File, len(files))
	for _, f := range files {
		m[f.Alias] = f
	}
	return m
}

// CommandObject renders a command as the contract's command object, with
// fresh storage_url links (never stored, so never handed out expired).
func (e *Engine) CommandObject(ctx context.Context, c *CommandInfo) (api.Command, error) {
	obj := api.Command{
		CommandID:       c.ID,
		Status:          string(c.Status),
		CommandType:     string(c.Type),
		Metadata:        c.Spec.Metadata,
		OriginalRequest: c.Request,
		OutputFiles:     make(map[string]api.OutputFile, len(c.Outputs)),
		CreatedAt:       api.Time(c.CreatedAt),
		UpdatedAt:       api.Time(c.UpdatedAt),
	}
	if c.Status.Final() {
		obj.TotalProcessingSeconds = c.TotalProcessingSeconds
		obj.FFmpegCommandRunSeconds = c.FFmpegRunSeconds
	}
	if c.Status == store.StatusProcessing && c.Progress != nil {
		p := c.Progress.Percent
		obj.Progress = &p
		if c.Progress.ETASeconds != nil {
			eta := *c.Progress.ETASeconds
			obj.ETASeconds = &eta
		}
	}
	if c.Status == store.StatusFailed {
		obj.ErrorStatus = c.ErrorStatus
		obj.ErrorMessage = c.ErrorMessage
	}
	for _, out := range c.Outputs {
		of := api.OutputFile{FileID: out.FileID, FileName: out.FileName, Status: string(store.FileProcessing)}
		if c.Status == store.StatusFailed {
			of.Status = string(store.FileFailed)
		}
		if f := c.Files[out.Alias]; f != nil {
			of.Status = string(f.Status)
			of.SizeMBytes = api.SizeMBytes(f.SizeBytes)
			of.IsDeleted = f.IsDeleted
			of.Info = f.Info
			if f.Status == store.FileStored && !f.IsDeleted {
				u, err := e.fileURL(ctx, f)
				if err != nil {
					return api.Command{}, err
				}
				of.StorageURL = &u
			}
		}
		obj.OutputFiles[out.Alias] = of
	}
	return obj, nil
}
