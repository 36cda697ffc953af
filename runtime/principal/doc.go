// Package principal owns identities: Ed25519 key pairs stored as PEM PKCS#8
// (private) and PEM SPKI (public) files that `openssl pkey` reads, key IDs
// derived from the public key, and principal records binding a key to an
// agent ID, an agent type and a tenant.
//
// Key files are the only disk I/O under runtime/.
package principal
