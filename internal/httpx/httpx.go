// Package httpx holds what every cnv HTTP server shares: answering in the
// encoding the client asked for (JSON or msgpack), the structured error
// shape, strict bounded body decoding, query parameters and certificate
// verification. It imports wire and runtime only.
package httpx

import (
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"

	jsonv2 "github.com/go-json-experiment/json"

	"github.com/cnv-project/cnv/runtime/cnverr"
	"github.com/cnv-project/cnv/runtime/codec"
	"github.com/cnv-project/cnv/runtime/limits"
	"github.com/cnv-project/cnv/wire"
)

// ErrBadBody is a request body that cannot be decoded.
var ErrBadBody = cnverr.New(cnverr.InvalidInput, "malformed request body")

// WantsMsgpack reports whether the client asked for msgpack answers.
func WantsMsgpack(r *http.Request) bool {
	return strings.Contains(r.Header.Get("Accept"), wire.ContentMsgpack)
}

// IsMsgpack reports whether the request body is msgpack.
func IsMsgpack(r *http.Request) bool {
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	return mt == wire.ContentMsgpack
}

// Write answers v with status in the encoding the client asked for.
func Write(w http.ResponseWriter, r *http.Request, status int, v any) {
	if WantsMsgpack(r) && codec.Write(msgpackAnswer{w, status}, v) == nil {
		return
	}
	b, err := json.Marshal(v)
	if err != nil {
		Error(w, r, cnverr.Wrap(cnverr.InternalError, err, "encode response"))
		return
	}
	w.Header().Set("Content-Type", wire.ContentJSON)
	w.WriteHeader(status)
	w.Write(append(b, '\n'))
}

// msgpackAnswer writes the headers of a msgpack answer with the body, once
// it is encoded whole.
type msgpackAnswer struct {
	w      http.ResponseWriter
	status int
}

func (a msgpackAnswer) Write(b []byte) (int, error) {
	a.w.Header().Set("Content-Type", wire.ContentMsgpack)
	a.w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	a.w.WriteHeader(a.status)
	return a.w.Write(b)
}

// Error answers err as {"error":{kind,message,details}} with its status.
func Error(w http.ResponseWriter, r *http.Request, err error) {
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

// ReadBody reads at most limit bytes of the body. A longer body is a 413:
// the rest of it is read and dropped (up to limits.MaxDrainBody), so the
// client, still sending, gets the answer instead of a connection reset.
func ReadBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	if r.ContentLength > limit && r.ContentLength > limits.MaxDrainBody {
		w.Header().Set("Connection", "close")
		return nil, cnverr.New(cnverr.TooLarge, "request body of %d bytes exceeds %d bytes", r.ContentLength, limit)
	}
	b, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
	if err != nil {
		return nil, cnverr.Wrap(cnverr.InvalidInput, err, "read request body")
	}
	if int64(len(b)) > limit {
		if n, _ := io.CopyN(io.Discard, r.Body, limits.MaxDrainBody); n == limits.MaxDrainBody {
			w.Header().Set("Connection", "close")
		}
		return nil, cnverr.New(cnverr.TooLarge, "request body exceeds %d bytes", limit)
	}
	return b, nil
}

// Decode reads and decodes a request body (JSON or msgpack), strictly.
func Decode(w http.ResponseWriter, r *http.Request, limit int64, v any) error {
	b, err := ReadBody(w, r, limit)
	if err != nil {
		return err
	}
	return DecodeBytes(b, IsMsgpack(r), v)
}

// DecodeBytes decodes a body already read, strictly and the same way for
// both encodings: a key that names no field (exact case), a key given
// twice, and a string that is not valid UTF-8 are refused, naming where.
func DecodeBytes(b []byte, msgpack bool, v any) error {
	if msgpack {
		if err := codec.UnmarshalStrict(b, len(b), v); err != nil {
			return badBody(err)
		}
		return nil
	}
	if err := jsonv2.Unmarshal(b, v, jsonv2.RejectUnknownMembers(true)); err != nil {
		return badBody(err)
	}
	return nil
}

func badBody(err error) error { return fmt.Errorf("%w: %v", ErrBadBody, err) }

// QueryUint parses a non-negative integer query parameter (def when absent).
func QueryUint(r *http.Request, name string, def uint64) (uint64, error) {
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

// QueryInt parses an integer query parameter (def when absent).
func QueryInt(r *http.Request, name string, def int64) (int64, error) {
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

// RequestLimit is the largest request body the API reads.
const RequestLimit = limits.MaxRequestBody

// DecodeLoose decodes JSON ignoring unknown fields (documents that carry
// more than the handler reads, such as invoke's full answer).
func DecodeLoose(b []byte, v any) error {
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("%w: %v", ErrBadBody, err)
	}
	return nil
}

// Respond answers v, or err when it is set.
func Respond(w http.ResponseWriter, r *http.Request, v any, err error) {
	if err != nil {
		Error(w, r, err)
		return
	}
	Write(w, r, http.StatusOK, v)
}

// GraphAnswer is a graph query's answer with the snapshot it reflects.
type GraphAnswer struct {
	Index  uint64 `json:"index"`
	Hash   string `json:"hash"`
	Result any    `json:"result"`
}

// ServeOpenAPI answers the API's OpenAPI 3 document (wire.OpenAPI).
func ServeOpenAPI(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", wire.ContentJSON)
	w.WriteHeader(http.StatusOK)
	w.Write(wire.OpenAPI)
}
