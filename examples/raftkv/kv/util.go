package kv

import (
	"bytes"
	"errors"
	"io"
)

func bytesReader(b []byte) io.Reader { return bytes.NewReader(b) }

type badRequestError struct{ msg string }

func (e *badRequestError) Error() string { return e.msg }

func badRequest(msg string) error { return &badRequestError{msg} }

func isBadRequest(err error) bool {
	var b *badRequestError
	return errors.As(err, &b)
}
