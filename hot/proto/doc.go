// Package proto is what both ends of cnv's hot-path wire protocol speak: a
// framed binary protocol on its own TCP port that carries certified
// FastPath invocations to a node's hotpath.Dispatcher. The server is
// hot/server, the Go client hot/client.
//
// A client proves possession of the key its certificate was issued to,
// presents the certificate once to open a session, and then sends
// invocations that carry only a session number, a sequence number and the
// arguments. Requests are pipelined; responses are written in batches, one
// write per dispatcher Sink.Flush where load allows.
//
// # Frames
//
// Every frame is
//
//	length u32 | type u8 | body        (length counts type and body)
//
// with integers big-endian. The invocation path uses fixed layouts:
//
//	invoke  0x10  session u32 | seq u64 | args
//	result  0x90  session u32 | seq u64 | outcome u8 | attempts u16 | code u8 |
//	              outcome ok and code 0: output
//	              otherwise: kind_len u8 | kind | message
//	refused 0x91  session u32 | seq u64 | code u8 | kind_len u8 | kind | message
//
// Control frames (hello 0x01, open 0x02, close 0x03, welcome 0x81, opened
// 0x82, closed 0x83, error 0x84) carry one runtime/codec msgpack map. A code
// names a well-known sentinel error (see errors.go), so errors.Is works on
// the client for refusals such as hotpath.ErrShardFull or
// certificate.ErrExpired; kind is the cnverr kind and message is for people.
//
// # Rules
//
//   - The first client frame is hello; the server answers welcome with a
//     32-byte challenge. A session open carries the certificate, the holder's
//     Ed25519 public key and its signature over ProofMessage(challenge,
//     certificate); the server's Authority decides whether that certificate,
//     held by that key, may open a session.
//   - Sequence numbers strictly increase within a session. Every invoke is
//     answered by exactly one result or one refused frame naming its session
//     and sequence: back-pressure (a full shard, a full session window, an
//     exhausted quota) is a refusal, never a silent drop and never an
//     unbounded queue. A refused invocation did not run.
//   - A frame whose body is malformed or of an unknown type is answered by an
//     error frame and skipped. A length field of 0 or beyond MaxHotFrameBytes
//     means framing is lost: the server sends a fatal error frame and closes
//     that connection; every other connection is unaffected.
//   - Memory per connection is bounded: arguments are borrowed from a bounded
//     set of read chunks until their invocation completes, and queued
//     responses are bounded; at either bound the server stops reading that
//     connection (TCP back-pressure) until completions or the client catch up.
//
// Here: the frame layouts and their codec (frame.go), the protocol version
// and magic, the sentinel errors of both sides and their one-byte codes
// (errors.go), the session-open proof (ProofDomain, ProofMessage,
// SignProof) and OutQueue, the batching write queue both sides write
// through. hot/server/DESIGN.md gives the reasons and the benchmark
// figures.
//
// proto imports runtime/* and go-hclog only; it must not import hot/server,
// hot/client, or anything of the cluster (cluster/, fsm/, ledger/).
package proto
