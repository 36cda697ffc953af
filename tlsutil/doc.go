// Package tlsutil makes and loads the cluster's TLS material: a CA, node
// certificates (server and client use, named by node id) and client
// certificates (client use only, named by a client name), all ECDSA P-256
// in PEM files that openssl reads. It builds the tls.Config of each role:
// node-to-node (mutual, the peer must present a node certificate of the
// cluster's CA), the HTTP API (server, optionally requiring a client
// certificate) and API clients.
//
// The identity a certificate proves is its URI SAN: cnv://node/ID or
// cnv://client/NAME. It imports no other cnv package.
package tlsutil
