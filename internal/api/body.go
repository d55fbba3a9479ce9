package api

import (
	"bytes"
	"errors"
	"mime"
	"net/http"
	"strings"
)

// readBody reads the whole body, refusing more than limit bytes. A declared
// Content-Length over the limit is refused before anything is read; one
// within it is read into a buffer of that size, so a large batch is not
// copied again and again as io.ReadAll grows its buffer.
func readBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	if r.ContentLength > limit {
		return nil, &http.MaxBytesError{Limit: limit}
	}
	buf := bytes.NewBuffer(make([]byte, 0, max(r.ContentLength, 0)+bytes.MinRead))
	_, err := buf.ReadFrom(http.MaxBytesReader(w, r.Body, limit))
	b := buf.Bytes()
	var me *http.MaxBytesError
	if errors.As(err, &me) {
		return nil, err
	}
	if err != nil {
		return nil, newError(http.StatusBadRequest, codeBadRequest, "the body could not be read")
	}
	return b, nil
}

// mediaType returns the request's media type, lowercased and without
// parameters such as charset; "" when there is no Content-Type.
func mediaType(r *http.Request) (string, error) {
	ct := r.Header.Get("Content-Type")
	if ct == "" {
		return "", nil
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return "", newError(http.StatusUnsupportedMediaType, codeMediaType, "the Content-Type header cannot be parsed")
	}
	return strings.ToLower(mt), nil
}

// requireMediaType accepts want, or no Content-Type at all: plenty of
// HTTP clients send JSON without saying so, and the body is parsed
// strictly anyway.
func requireMediaType(r *http.Request, want string) error {
	mt, err := mediaType(r)
	if err != nil {
		return err
	}
	if mt != "" && mt != want {
		return newError(http.StatusUnsupportedMediaType, codeMediaType, "send Content-Type: "+want)
	}
	return nil
}
