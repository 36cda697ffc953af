package proto

import (
	"errors"

	"github.com/cnv-project/cnv/runtime/certificate"
	"github.com/cnv-project/cnv/runtime/cnverr"
	"github.com/cnv-project/cnv/runtime/hotpath"
)

// Sentinel errors of the protocol, shared by the server and the client.
var (
	// Framing and protocol.
	ErrFrameTooLarge  = cnverr.New(cnverr.TooLarge, "hot-path frame exceeds the size limit")
	ErrMalformedFrame = cnverr.New(cnverr.InvalidStructure, "malformed hot-path frame")
	ErrUnknownFrame   = cnverr.New(cnverr.InvalidInput, "unknown hot-path frame type")
	ErrProtocol       = cnverr.New(cnverr.InvalidInput, "hot-path protocol violation")

	// Invocations.
	ErrUnknownSession = cnverr.New(cnverr.NotFound, "unknown hot-path session")
	ErrSeqOrder       = cnverr.New(cnverr.InvalidInput, "sequence numbers must increase within a session")
	ErrArgsTooLarge   = cnverr.New(cnverr.TooLarge, "invocation arguments exceed the size limit")
	ErrOutputTooLarge = cnverr.New(cnverr.TooLarge, "handler output exceeds the size limit; the invocation ran")
	ErrSessionExpired = cnverr.New(cnverr.PermissionDenied, "session certificate expired")
	ErrRevoked        = cnverr.New(cnverr.PermissionDenied, "session authorisation revoked")

	// Sessions.
	ErrBadProof        = cnverr.New(cnverr.Unauthenticated, "proof of key possession does not verify")
	ErrWrongHolder     = cnverr.New(cnverr.Unauthenticated, "certificate was issued to another key")
	ErrNotHotPath      = cnverr.New(cnverr.CommandNotFound, "capability is not served on the hot path")
	ErrTooManySessions = cnverr.New(cnverr.ResourceExhausted, "too many sessions on this connection")
	ErrSessionExists   = cnverr.New(cnverr.Conflict, "the certificate already has a live session on this node")
	ErrTooManyConns    = cnverr.New(cnverr.ResourceExhausted, "too many hot-path connections")

	// Server and client lifecycle.
	ErrServerClosed = cnverr.New(cnverr.Unavailable, "hot-path server closed")
	ErrConnClosed   = cnverr.New(cnverr.Unavailable, "hot-path connection closed")
	ErrBadConfig    = cnverr.New(cnverr.InvalidInput, "invalid hot-path configuration")
)

// codeTable gives well-known sentinels a one-byte code on the wire, so the
// client can return the very sentinel (errors.Is works across the network)
// and refusals need no message bytes. Code 0 means "no sentinel": the frame's
// kind and message describe the error. Codes are append-only.
var codeTable = [...]error{
	nil,
	hotpath.ErrShardFull,
	hotpath.ErrSessionWindow,
	hotpath.ErrConcurrencyLimit,
	hotpath.ErrQuotaExhausted,
	hotpath.ErrSessionClosed,
	hotpath.ErrStopped,
	hotpath.ErrDeadline,
	hotpath.ErrAborted,
	hotpath.ErrHandlerPanic,
	hotpath.ErrEffectNotAllowed,
	ErrUnknownSession,
	ErrSeqOrder,
	ErrArgsTooLarge,
	ErrOutputTooLarge,
	ErrSessionExpired,
	ErrRevoked,
	ErrFrameTooLarge,
	ErrMalformedFrame,
	ErrUnknownFrame,
	ErrProtocol,
	ErrBadProof,
	ErrWrongHolder,
	ErrNotHotPath,
	ErrTooManySessions,
	ErrTooManyConns,
	ErrServerClosed,
	certificate.ErrExpired,
	certificate.ErrNotYetValid,
	certificate.ErrInvalid,
	certificate.ErrBadSignature,
	certificate.ErrUntrustedSigner,
	certificate.ErrNotVerified,
	hotpath.ErrNotStarted,
	ErrSessionExists,
}

// CodeOf returns err's code: pointer equality first (refusals are bare
// sentinels, so this costs no allocation), then the wrap chain.
func CodeOf(err error) uint8 {
	if err == nil {
		return 0
	}
	for i := 1; i < len(codeTable); i++ {
		if err == codeTable[i] {
			return uint8(i)
		}
	}
	for i := 1; i < len(codeTable); i++ {
		if errors.Is(err, codeTable[i]) {
			return uint8(i)
		}
	}
	return 0
}

// Sentinel returns the error a code names, nil for 0 or an unknown code.
func Sentinel(code uint8) error {
	if int(code) < len(codeTable) {
		return codeTable[code]
	}
	return nil
}

// remoteError rebuilds an error received from the peer: the sentinel its
// code names (carrying the peer's message when it adds something), else a
// *cnverr.Error of the given kind.
func remoteError(code uint8, kind, message string) error {
	if s := Sentinel(code); s != nil {
		if message == "" || message == s.Error() {
			return s
		}
		return &peerError{sentinel: s, message: message}
	}
	if kind == "" {
		kind = string(cnverr.InternalError)
	}
	if message == "" {
		message = kind
	}
	return cnverr.New(cnverr.Kind(kind), "%s", message)
}

// peerError is a well-known sentinel with the peer's full message; errors.Is
// and cnverr.KindOf see the sentinel.
type peerError struct {
	sentinel error
	message  string
}

func (e *peerError) Error() string { return e.message }
func (e *peerError) Unwrap() error { return e.sentinel }
