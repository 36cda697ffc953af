package proto

import (
	"crypto/ed25519"
	"crypto/sha256"
)

// ProofDomain starts the message a client signs to open a session, so the
// signature can never be mistaken for one made for another purpose.
const ProofDomain = "cnv/hotwire/open/v1\x00"

// ChallengeSize is the size of the per-connection challenge in welcome.
const ChallengeSize = 32

// ProofMessage is what the holder of a certificate signs to open a session
// on a connection: ProofDomain | challenge | SHA-256(certificate bytes).
// The challenge is fresh per connection, so a proof cannot be replayed on
// another connection.
func ProofMessage(challenge, certificateJSON []byte) []byte {
	sum := sha256.Sum256(certificateJSON)
	m := make([]byte, 0, len(ProofDomain)+len(challenge)+len(sum))
	m = append(m, ProofDomain...)
	m = append(m, challenge...)
	return append(m, sum[:]...)
}

// SignProof signs the proof of possession of key for certificateJSON on a
// connection whose welcome carried challenge, and returns the signature and
// key's public half (OpenMsg's Signature and PublicKey).
func SignProof(key ed25519.PrivateKey, challenge, certificateJSON []byte) (sig, pub []byte) {
	return ed25519.Sign(key, ProofMessage(challenge, certificateJSON)), key.Public().(ed25519.PublicKey)
}
