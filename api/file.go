package api

import "github.com/openrender/openrender/media"

// File is the file object: what GET /api/v1/files/{id} returns and what
// GET /api/v1/files lists. StorageURL is null unless the file is STORED and
// not deleted; OriginalFileURL is null for uploads and command outputs;
// the error fields are null unless the file FAILED.
type File struct {
	FileID          string  `json:"file_id"`
	StorageURL      *string `json:"storage_url"`
	Status          string  `json:"status"`
	IsDeleted       bool    `json:"is_deleted"`
	OriginalFileURL *string `json:"original_file_url"`
	FileName        string  `json:"filename"`
	SizeMBytes      float64 `json:"size_mbytes"`
	media.Info
	ErrorStatus  *string `json:"error_status"`
	ErrorMessage *string `json:"error_message"`
	CreatedAt    Time    `json:"created_at"`
}

// FileID is the answer to store-file and upload.
type FileID struct {
	FileID string `json:"file_id"`
}

// FileList is the answer to GET /api/v1/files.
type FileList struct {
	Files  []File `json:"files"`
	Limit  int    `json:"limit"`
	Offset int    `json:"offset"`
}

// FileDeleted is the answer to DELETE /api/v1/files/{id}.
type FileDeleted struct {
	Deleted bool   `json:"deleted"`
	FileID  string `json:"file_id"`
}

// CommandFilesDeleted is the answer to DELETE /api/v1/commands/{id}/files.
type CommandFilesDeleted struct {
	Deleted      bool `json:"deleted"`
	FilesDeleted int  `json:"files_deleted"`
}
