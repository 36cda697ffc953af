package transport

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"github.com/cnv-project/cnv/runtime/cnverr"
	"github.com/cnv-project/cnv/runtime/codec"
	"github.com/cnv-project/cnv/runtime/limits"
	"github.com/cnv-project/cnv/wire"
)

// errBadBody is a request body that cannot be decoded.
var errBadBody = cnverr.New(cnverr.InvalidInput, "malformed request body")

// wantsMsgpack reports whether the client asked for msgpack answers.
func wantsMsgpack(r *http.Request) bool {
	return strings.Contains(r.Header.Get("Accept"), wire.ContentMsgpack)
}

func isMsgpack(r *http.Request) bool {
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	return mt == wire.ContentMsgpack
}

// writeJSON answers v with status in the encoding the client asked for.
func write(w http.ResponseWriter, r *http.Request, status int, v any) {
	if wantsMsgpack(r) {
		b, err := codec.Marshal(v)
		if err == nil {
			w.Header().Set("Content-Type", wire.ContentMsgpack)
			w.WriteHeader(status)
			w.Write(b)
			return
		}
	}
	b, err := json.Marshal(v)
	if err != nil {
		writeErr(w, r, cnverr.Wrap(cnverr.InternalError, err, "encode response"))
		return
	}
	w.Header().Set("Content-Type", wire.ContentJSON)
	w.WriteHeader(status)
	w.Write(append(b, '\n'))
}

// writeErr answers err as {"error":{kind,message,details}} with its status.
func writeErr(w http.ResponseWriter, r *http.Request, err error) {
	e := cnverr.Render(err)
	status := cnverr.HTTPStatus(e.Kind)
	if status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", "1")
	}
	b, _ := json.Marshal(wire.ErrorResponse{Error: e})
	w.Header().Set("Content-Type", wire.ContentJSON)
	w.WriteHeader(status)
	w.Write(append(b, '\n'))
}

// readBody reads at most limit bytes of the body.
func readBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return nil, cnverr.New(cnverr.TooLarge, "request body exceeds %d bytes", limit)
	}
	if err != nil {
		return nil, cnverr.Wrap(cnverr.InvalidInput, err, "read request body")
	}
	return b, nil
}

// decode reads and decodes a request body (JSON or msgpack), strictly.
func decode(w http.ResponseWriter, r *http.Request, limit int64, v any) error {
	b, err := readBody(w, r, limit)
	if err != nil {
		return err
	}
	return decodeBytes(b, isMsgpack(r), v)
}

func decodeBytes(b []byte, msgpack bool, v any) error {
	if msgpack {
		if err := codec.UnmarshalLimit(b, len(b), v); err != nil {
			return fmt.Errorf("%w: %v", errBadBody, err)
		}
		return nil
	}
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%w: %v", errBadBody, err)
	}
	if dec.More() {
		return fmt.Errorf("%w: trailing data after the JSON value", errBadBody)
	}
	return nil
}

// query helpers

func queryUint(r *http.Request, name string, def uint64) (uint64, error) {
	s := r.URL.Query().Get(name)
	if s == "" {
		return def, nil
	}
	v, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, cnverr.New(cnverr.InvalidInput, "query parameter %s=%q is not a non-negative integer", name, s)
	}
	return v, nil
}

func queryInt(r *http.Request, name string, def int64) (int64, error) {
	s := r.URL.Query().Get(name)
	if s == "" {
		return def, nil
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, cnverr.New(cnverr.InvalidInput, "query parameter %s=%q is not an integer", name, s)
	}
	return v, nil
}

// requestLimit is the largest request body the API reads.
const requestLimit = limits.MaxRequestBody

// decodeLoose decodes JSON ignoring unknown fields (documents that carry
// more than the handler reads, such as invoke's full answer).
func decodeLoose(b []byte, v any) error {
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("%w: %v", errBadBody, err)
	}
	return nil
}
