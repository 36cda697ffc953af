// Package mux serves several protocols on one authenticated port: a node's
// Raft traffic and its node-to-node calls share the Raft address. Each
// accepted connection proves itself before anything else reads from it:
// with TLS, a handshake whose peer certificate the server's tls.Config
// accepts (a node certificate of the cluster's CA); without TLS but with a
// cluster token, an HMAC of a fresh challenge under the token. Then one
// byte names the protocol, and the connection is handed to that
// protocol's listener.
//
// Until then a connection is held by the mux, not the protocol: at most
// MaxPending at once, each for at most Handshake, reading at most
// PreAuthBytes. So a peer that proves nothing holds a few KiB for seconds,
// and Raft never decodes a byte from it. After the handoff a per-peer cap
// and an idle timeout apply.
//
// It imports no other cnv package.
package mux
