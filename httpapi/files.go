package httpapi

import (
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/openrender/openrender/api"
	"github.com/openrender/openrender/engine"
	"github.com/openrender/openrender/template"
)

// uploadSlackBytes is what an upload's body may hold beyond the file's own
// size limit: multipart boundaries, part headers, small extra fields.
const uploadSlackBytes = 1 << 20

// UploadField is the multipart form field that carries an upload.
const UploadField = "file"

func (h *handler) fileRoutes() {
	h.mux.Handle("POST /api/v1/files/store-file", h.authed(h.storeFile))
	h.mux.Handle("POST /api/v1/files/upload", h.authed(h.uploadFile))
	h.mux.Handle("GET /api/v1/files/{id}", h.authed(h.getFile))
	h.mux.Handle("GET /api/v1/files", h.authed(h.listFiles))
	h.mux.Handle("DELETE /api/v1/files/{id}", h.authed(h.deleteFile))
	h.mux.Handle("DELETE /api/v1/commands/{id}/files", h.authed(h.deleteCommandFiles))
}

// POST /api/v1/files/store-file {"file_url"}
func (h *handler) storeFile(w http.ResponseWriter, r *http.Request) {
	obj, ok := h.readObject(w, r)
	if !ok {
		return
	}
	fileURL := obj.requiredString("file_url", "file_url is required: the URL of the file to store")
	if len(obj.problems) > 0 {
		writeValidation(w, obj.problems)
		return
	}
	f, err := h.eng.StoreFile(r.Context(), accountFrom(r.Context()).ID, fileURL)
	if h.writeFailure(w, r, err) {
		return
	}
	writeJSON(w, http.StatusOK, api.FileID{FileID: f.ID})
}

// POST /api/v1/files/upload, multipart/form-data with the file in field
// "file". The part is streamed to disk and on to storage as it arrives,
// never held whole in memory; past the engine's MaxUploadBytes the answer
// is 413 and nothing is stored. Other fields are skipped.
func (h *handler) uploadFile(w http.ResponseWriter, r *http.Request) {
	limit := h.eng.Config().MaxUploadBytes
	tooLarge := func() {
		// The rest of the body is not read: close the connection rather
		// than drain gigabytes.
		w.Header().Set("Connection", "close")
		writeError(w, http.StatusRequestEntityTooLarge, api.CodePayloadTooLarge,
			fmt.Sprintf("The uploaded file is larger than the %d-byte limit.", limit), nil)
	}
	if r.ContentLength > limit+uploadSlackBytes {
		tooLarge()
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, limit+uploadSlackBytes)
	mr, err := r.MultipartReader()
	if err != nil {
		writeValidation(w, template.Errors{template.NewFieldError(
			"send the file as multipart/form-data, in a field named "+UploadField, "body", UploadField)})
		return
	}
	for {
		part, err := mr.NextPart()
		var maxBytes *http.MaxBytesError
		switch {
		case errors.As(err, &maxBytes):
			tooLarge()
			return
		case err == io.EOF:
			writeValidation(w, template.Errors{template.NewFieldError(
				"the form has no field named "+UploadField+"; put the file there", "body", UploadField)})
			return
		case err != nil:
			writeError(w, http.StatusBadRequest, api.CodeInvalidRequest, "The multipart body could not be read: "+err.Error()+".", nil)
			return
		}
		if part.FormName() != UploadField {
			continue // NextPart skips the rest of this part
		}
		f, err := h.eng.UploadFile(r.Context(), accountFrom(r.Context()).ID, part.FileName(), part)
		switch {
		case errors.Is(err, engine.ErrUploadTooLarge), errors.As(err, &maxBytes):
			tooLarge()
		case err != nil && r.Context().Err() != nil:
			// The client went away; nobody reads an answer.
		case err != nil:
			h.internalError(w, r, err)
		default:
			writeJSON(w, http.StatusOK, api.FileID{FileID: f.ID})
		}
		return
	}
}

// GET /api/v1/files/{id}
func (h *handler) getFile(w http.ResponseWriter, r *http.Request) {
	f, err := h.eng.GetFile(r.Context(), accountFrom(r.Context()).ID, r.PathValue("id"))
	if errors.Is(err, engine.ErrNotFound) {
		writeError(w, http.StatusNotFound, api.CodeNotFound, "No file with that id exists in your account.", nil)
		return
	}
	if err != nil {
		h.internalError(w, r, err)
		return
	}
	obj, err := h.eng.FileObject(r.Context(), f)
	if err != nil {
		h.internalError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, obj)
}

// GET /api/v1/files?limit&offset
func (h *handler) listFiles(w http.ResponseWriter, r *http.Request) {
	limit, offset, problems := pageParams(r.URL.Query())
	if len(problems) > 0 {
		writeValidation(w, problems)
		return
	}
	files, err := h.eng.ListFiles(r.Context(), accountFrom(r.Context()).ID, limit, offset)
	if err != nil {
		h.internalError(w, r, err)
		return
	}
	page := api.FileList{Files: make([]api.File, 0, len(files)), Limit: limit, Offset: offset}
	for _, f := range files {
		obj, err := h.eng.FileObject(r.Context(), f)
		if err != nil {
			h.internalError(w, r, err)
			return
		}
		page.Files = append(page.Files, obj)
	}
	writeJSON(w, http.StatusOK, page)
}

// DELETE /api/v1/files/{id}
func (h *handler) deleteFile(w http.ResponseWriter, r *http.Request) {
	f, err := h.eng.DeleteFile(r.Context(), accountFrom(r.Context()).ID, r.PathValue("id"))
	if errors.Is(err, engine.ErrNotFound) {
		writeError(w, http.StatusNotFound, api.CodeNotFound, "No file with that id exists in your account, or it is already deleted.", nil)
		return
	}
	if err != nil {
		h.internalError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, api.FileDeleted{Deleted: true, FileID: f.ID})
}

// DELETE /api/v1/commands/{id}/files
func (h *handler) deleteCommandFiles(w http.ResponseWriter, r *http.Request) {
	n, err := h.eng.DeleteCommandFiles(r.Context(), accountFrom(r.Context()).ID, r.PathValue("id"))
	if errors.Is(err, engine.ErrNotFound) {
		writeError(w, http.StatusNotFound, api.CodeNotFound, "No command with that id exists in your account.", nil)
		return
	}
	if errors.Is(err, engine.ErrCommandRunning) {
		writeError(w, http.StatusConflict, api.CodeConflict, "The command has not finished; its output files can be deleted once it is SUCCESS or FAILED.", nil)
		return
	}
	if err != nil {
		h.internalError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, api.CommandFilesDeleted{Deleted: true, FilesDeleted: n})
}
