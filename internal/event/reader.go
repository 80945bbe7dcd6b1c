package event

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
)

// MaxLineBytes is the longest input line the Reader accepts; a longer one is an error for that line only.
const MaxLineBytes = 1 << 20

// Reader reads JSON Lines, plain or gzip (recognised by its magic bytes), one line at a time. Blank lines
// are skipped; line numbers count every line of the input.
type Reader struct {
	br   *bufio.Reader
	line int64
	buf  []byte
	gz   *gzip.Reader
}

// NewReader returns a Reader of r, decompressing gzip input transparently.
func NewReader(r io.Reader) (*Reader, error) {
	br := bufio.NewReaderSize(r, 1<<20)
	magic, err := br.Peek(2)
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, bufio.ErrBufferFull) {
		return nil, fmt.Errorf("read events: %w", err)
	}
	rd := &Reader{br: br}
	if len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		gz, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("read gzip events: %w", err)
		}
		rd.gz = gz
		rd.br = bufio.NewReaderSize(gz, 1<<20)
	}
	return rd, nil
}

// Next returns the next non-blank line and its 1-based number. The slice is valid until the next call
// unless copied. A line over MaxLineBytes is returned as a *LineError (the rest of it skipped); io.EOF
// ends the input.
func (r *Reader) Next() ([]byte, int64, error) {
	for {
		r.buf = r.buf[:0]
		tooLong := false
		for {
			chunk, err := r.br.ReadSlice('\n')
			if len(r.buf)+len(chunk) > MaxLineBytes {
				tooLong = true
			} else {
				r.buf = append(r.buf, chunk...)
			}
			if err == nil {
				break
			}
			if errors.Is(err, bufio.ErrBufferFull) {
				continue
			}
			if errors.Is(err, io.EOF) {
				if len(r.buf) == 0 && !tooLong {
					return nil, r.line, io.EOF
				}
				break
			}
			return nil, r.line, fmt.Errorf("read events after line %d: %w", r.line, err)
		}
		r.line++
		if tooLong {
			return nil, r.line, &LineError{Line: r.line, Err: &FieldError{Code: CodeLineTooLong, Msg: fmt.Sprintf("line longer than %d bytes", MaxLineBytes)}}
		}
		line := bytes.TrimSpace(r.buf)
		if len(line) == 0 {
			continue
		}
		return line, r.line, nil
	}
}

// Line returns the number of the last line read.
func (r *Reader) Line() int64 { return r.line }
