// Package limits declares every size and count limit in cnv in one place,
// each with the reason for its value. Code that accepts outside input checks
// against these constants and reports the limit in its error message.
//
// Raising a limit is a compatibility decision: a value accepted by one node
// must be accepted by every node replaying the same Raft log, so limits that
// the FSM checks may only grow between releases.
package limits

const (
	// CodecMaxInitLen caps how many elements the msgpack decoder pre-allocates
	// for a collection whose header claims a length. A hostile header can
	// claim 2^32 elements; real collections grow past this by appending.
	CodecMaxInitLen = 4096

	// CodecMaxDepth caps nesting in decoded msgpack. cnv's deepest legitimate
	// structure (a schema inside a capability inside a command batch) is
	// well under 32 levels; 64 leaves room and stops stack exhaustion.
	CodecMaxDepth = 64

	// MaxPathLen is the longest capability path ("noun.sub.verb"). Paths are
	// identifiers typed by people and agents; 256 bytes is generous and keeps
	// per-capability index entries small.
	MaxPathLen = 256

	// MaxPathSegments is the deepest nesting of nouns plus the verb. Eight
	// levels already read poorly on a command line.
	MaxPathSegments = 8

	// MaxVersionLen bounds a capability version string ("2.0.0-rc.1").
	MaxVersionLen = 64

	// MaxIDLen bounds agent IDs, tenant IDs, node IDs, correlation IDs and
	// request IDs. They are keys in indexes and appear in every ledger event.
	MaxIDLen = 128

	// MaxArgs is the most named plus positional arguments one invocation may
	// carry. Invocations are commands, not documents.
	MaxArgs = 64

	// MaxArgKeyLen bounds an argument name.
	MaxArgKeyLen = 64

	// MaxArgValueLen bounds one argument value. Bulk data belongs in the
	// capability's own storage, not in the governance ledger.
	MaxArgValueLen = 4096

	// MaxCommandLineLen bounds the recorded command line of an invocation.
	MaxCommandLineLen = 16 << 10

	// MaxChainDepth is the most links in a delegation chain. Every link costs
	// a signature check and a use counter charged in the FSM; eight hops is
	// beyond any organisational structure we have seen.
	MaxChainDepth = 8

	// MaxPatternsPerConstraint bounds the allowed/forbidden capability lists
	// and noun/verb lists in one delegation link.
	MaxPatternsPerConstraint = 256

	// MaxTokenBytes bounds one encoded delegation link.
	MaxTokenBytes = 64 << 10

	// MaxPolicyRules bounds a policy set. Evaluation is linear in the rules
	// that could match; 10,000 keeps a worst-case evaluation well under a
	// millisecond.
	MaxPolicyRules = 10000

	// MaxPolicyBytes bounds a policy document.
	MaxPolicyBytes = 4 << 20

	// MaxKeyFileBytes bounds a PEM key file; an Ed25519 key in PEM is about
	// 120 bytes.
	MaxKeyFileBytes = 16 << 10

	// MaxCertificateBytes bounds an encoded certificate (JSON or msgpack).
	MaxCertificateBytes = 256 << 10

	// MaxSchemaDepth bounds nesting in a type schema.
	MaxSchemaDepth = 16

	// MaxRequestBody is the largest HTTP request body the API reads. A batch
	// of invocations is the biggest legitimate body; capability files go
	// through MaxCapabilityFileBytes.
	MaxRequestBody = 4 << 20

	// MaxDrainBody is how much of an oversized request body a server reads
	// and drops before answering 413, so a client still sending gets the
	// answer rather than a connection reset. Twice MaxRequestBody covers
	// every honest mistake; a larger body is answered at once (and the
	// connection closed) without reading it.
	MaxDrainBody = 2 * MaxRequestBody

	// MaxCapabilityFileBytes bounds a capability registration document.
	MaxCapabilityFileBytes = 4 << 20

	// MaxCapabilities bounds the capability registry. Graph snapshots keep a
	// closure bitset per node (n^2/8 bytes): 20,000 nodes is 50 MB.
	MaxCapabilities = 20000
)

// Execution contracts (runtime/contract).
const (
	// MaxContractDuration bounds every duration in a contract (timeout,
	// deadline, retry delays, CPU time). It is seven times the longest
	// duration class (LongRunning, 24h): anything longer is a job scheduler's
	// business, and the bound keeps arithmetic on durations far from overflow.
	MaxContractDuration = 168 * 3600 * 1000000000 // nanoseconds (168h)

	// MaxRetryAttempts bounds max_attempts of a bounded retry policy. A
	// capability that needs more than 100 tries wants the forever policy,
	// which says so explicitly.
	MaxRetryAttempts = 100

	// MaxRetryMultiplier bounds the exponential backoff factor; beyond 16 the
	// second retry already waits longer than the cap in any sane policy.
	MaxRetryMultiplier = 16

	// MaxContractDescriptionLen bounds a contract's free-text description;
	// it is replicated with the capability registry.
	MaxContractDescriptionLen = 1024
)

// Governance ledger (ledger/, ledger/checkpoint).
const (
	// MaxEventBytes bounds one encoded ledger event. The largest legitimate
	// event, a PolicyDecision with its full request, result, eight chain
	// links and their effective constraints, is a few KiB; 256 KiB leaves
	// room while keeping any one event a small part of a Raft entry.
	MaxEventBytes = 256 << 10

	// MaxEventMetadata bounds the free-form metadata entries of one event.
	// Keys and values are bounded by MaxArgKeyLen and MaxArgValueLen.
	MaxEventMetadata = 64

	// MaxEventTextLen bounds free-text event fields (reasons, descriptions,
	// addresses). They are for people reading an audit trail, not payloads.
	MaxEventTextLen = 4096

	// MaxLedgerBatch bounds the events appended by one call, which is one
	// bbolt write transaction and one fsync. A batch's dirty pages are held
	// in memory until commit; 16,384 events of a few KiB stay under ~64 MB.
	MaxLedgerBatch = 16384

	// MaxCachedTiles bounds the complete upper Merkle tiles (960 bytes
	// each, 1024 events or more below each) a ledger store keeps in memory
	// for proofs: ~4 MiB, every upper tile of a ledger of up to 4M events
	// and the top levels of any larger one, which every proof crosses.
	MaxCachedTiles = 4096

	// MaxQueryLimit bounds one page of query results. A page is decoded and
	// returned in one response; larger reads page with after-index.
	MaxQueryLimit = 10000

	// MaxImportLineBytes bounds one JSON line of a ledger import. JSON with
	// hex hashes and escapes is at most about 4x the msgpack form of an
	// event bounded by MaxEventBytes.
	MaxImportLineBytes = 4 * MaxEventBytes

	// MaxCheckpointBytes bounds a signed checkpoint note: a body of a few
	// lines plus at most MaxCheckpointSigners signature lines of ~100 bytes.
	MaxCheckpointBytes = 64 << 10

	// MaxProofHashes bounds an inclusion or consistency proof a client
	// sends: a tree of 2^64 leaves needs at most 64 hashes.
	MaxProofHashes = 64

	// MaxCheckpointSigners bounds the cosignatures on one checkpoint; the
	// note format itself refuses to parse more than 100.
	MaxCheckpointSigners = 100

	// MaxCheckpointExtLines bounds the extension lines of a checkpoint body
	// beyond cnv's own (policy, time).
	MaxCheckpointExtLines = 16

	// MaxHotPathShards bounds the per-shard counts in one HotPathBatch event;
	// a node runs at most a few shards per core.
	MaxHotPathShards = 1024
)

// Capability graph (runtime/graph).
const (
	// MaxGraphEdges bounds the edges of the capability graph: ten per
	// capability at MaxCapabilities. Snapshots keep forward and reverse CSR
	// adjacency (8 bytes per edge) and every edge in their encoding.
	MaxGraphEdges = 200000

	// MaxPathPolicies bounds the path policies of one graph. Every path a
	// query returns is checked against each of them.
	MaxPathPolicies = 256

	// MaxCapabilityTags bounds the tags of one capability.
	MaxCapabilityTags = 32

	// MaxCapabilityTagLen bounds one tag; tags are labels, not text.
	MaxCapabilityTagLen = 64

	// MaxCapabilityDescriptionLen bounds a capability's or an edge's
	// description. It is replicated in every graph snapshot.
	MaxCapabilityDescriptionLen = 1024

	// MaxGraphPathNodes is the longest path, in nodes, that path, paths and
	// compose queries consider. Capability chains are short; enumerating
	// simple paths grows exponentially with their length.
	MaxGraphPathNodes = 32

	// MaxGraphPaths bounds the paths one all-paths query returns (allowed
	// and excluded together); beyond it the result is marked truncated.
	MaxGraphPaths = 10000

	// MaxGraphSearchSteps bounds the node expansions of one depth-first
	// search (all paths, or a shortest path under require_through
	// policies), about 50 ms of work, so that no query can pin a core.
	MaxGraphSearchSteps = 1 << 22

	// MaxGraphSnapshotBytes bounds an encoded graph snapshot received from a
	// peer: MaxCapabilities nodes of ~1 KiB each plus MaxGraphEdges edges of
	// ~50 bytes fit with room to spare.
	MaxGraphSnapshotBytes = 64 << 20
)

// Invocations (runtime/invocation).
const (
	// MaxPayloadBytes bounds the document a governance invocation carries
	// (a policy set or a capability file); equal to the larger of the two
	// document limits.
	MaxPayloadBytes = 4 << 20

	// MaxBatchInvocations bounds how many invocations one signed batch may
	// carry. One signature then covers at most this many; a Raft entry
	// carries at most a few batches.
	MaxBatchInvocations = 1024
)

// Raft state machine (fsm).
const (
	// MaxEnvelopeBytes bounds one Raft log entry. A leader cuts batches
	// well below this; the bound stops a corrupt entry from making every
	// node allocate without limit.
	MaxEnvelopeBytes = 64 << 20

	// MaxRequestIDs is how many (invoker, request id) pairs the state
	// remembers for deduplication. The oldest are forgotten first, in log
	// order, so every node forgets the same ones. An entry is about 90
	// bytes of bbolt pages (key, digest, ledger index: the answer is
	// rebuilt from the ledger event) and 16 bytes of the in-memory lookup
	// index, so the table costs ~18 MB of file and ~5 MB of memory.
	MaxRequestIDs = 200000

	// MaxRecentEntryProofs is how many applied Raft entries keep their
	// ledger batch proofs in memory (fsm.FSM.BatchProofs). The write path
	// asks for an entry's proofs as soon as it is applied, to answer the
	// entry's invocations, so a second of entries at a busy leader's rate
	// (hundreds of entries a second) is plenty; older entries' proofs are
	// read from the stored tree.
	MaxRecentEntryProofs = 1024

	// MaxRecentProofEvents bounds the events those entries may hold
	// together: a batch keeps about two 32-byte hashes an event, so 2^16
	// events are ~4 MiB whatever the entries' sizes (the newest entry is
	// kept even alone beyond it).
	MaxRecentProofEvents = 1 << 16
)

// Hot path (runtime/hotpath).
const (
	// MaxShards bounds the dispatcher's shards. Each is one worker
	// goroutine and one queue; beyond a few per core they only add wake-ups
	// and memory, and 256 covers the largest machines we target.
	MaxShards = 256

	// MaxShardQueue bounds one shard's queue. A slot is about 48 bytes, so
	// 2^20 slots is 48 MiB per shard; a deeper queue only hides overload
	// that back-pressure (ErrShardFull) should report.
	MaxShardQueue = 1 << 20

	// MaxSessionWindow bounds one session's invocations in flight (its
	// pipelining depth). The wire protocol's client keeps a response slot
	// per outstanding request; 65,536 is far past what a link's
	// bandwidth-delay product needs at hot-path message sizes.
	MaxSessionWindow = 1 << 16

	// MinWatchdogTick is the finest timeout-enforcement resolution, in
	// nanoseconds. The watchdog wakes every tick while a shard is busy;
	// below 10µs it would cost a noticeable share of a core for deadlines
	// (FastPath: 1ms) that do not need it.
	MinWatchdogTick = 10_000
)

// Delegation (runtime/delegation).
const (
	// MaxEffectivePatterns bounds each pattern list (allow, forbid, nouns) of
	// a chain's effective constraints. The intersection of two lists can have
	// as many patterns as the product of their sizes; capping it at the
	// per-link limit keeps the effective constraints recordable as one link
	// and bounds the work of verifying a hostile chain. A chain whose
	// effective constraints would exceed it is refused as too complex.
	MaxEffectivePatterns = MaxPatternsPerConstraint

	// DelegationCacheEntries is the default size of a verifier's signature
	// cache and of its prepared-chain cache. An entry is about 100 bytes
	// (signature cache) or one prepared chain (a few hundred bytes), so the
	// default costs a few megabytes and covers every active chain of a busy
	// node.
	DelegationCacheEntries = 8192
)

// Fault-injection suite (jepsen/).
const (
	// MaxHistoryBytes bounds a saved run history that jepsen loads to
	// re-check offline. A 100-run campaign of 60 s at a few hundred ops/s
	// writes histories of a few megabytes each; 256 MiB leaves room for long
	// runs with full ledger reads while keeping a hostile file from
	// exhausting memory.
	MaxHistoryBytes = 256 << 20
)

// Cluster reads and writes.
const (
	// MaxReadWait bounds how long a read waits for the local state to
	// reach the index it must reflect (a read index or --min-index): long
	// enough for a follower to catch up after a brief stall, short enough
	// that a partitioned node answers with an error rather than hanging.
	MaxReadWait = 5 * 1000 * 1000 * 1000 // nanoseconds (5s)
)

// Gossip (cluster/gossip).
const (
	// MaxGossipAddrLen bounds the Raft and API addresses a member advertises
	// in its gossip metadata. Node metadata must fit memberlist's 512-byte
	// meta limit together with a MaxIDLen node id and a graph hash; 96
	// bytes holds any host:port with an IPv6 literal and a zone, or a
	// reasonable DNS name.
	MaxGossipAddrLen = 96

	// MaxGossipStateBytes bounds the state one member sends another in a
	// memberlist push/pull exchange: a header and, when it fits, the
	// encoded graph snapshot. memberlist itself refuses user state over
	// 20 MiB; snapshots larger than this travel through the API fetch hook
	// instead, so one exchange never stalls the gossip stream for long.
	MaxGossipStateBytes = 16 << 20

	// GossipEventBuffer is how many membership events wait for a slow
	// consumer before newer ones are dropped (and counted). Events are
	// hints; Members() is the truth, so a consumer that falls behind only
	// reacts later.
	GossipEventBuffer = 1024

	// MaxGossipGraphCandidates bounds the members one graph-sync round tries
	// before it gives up until the next round, so a cluster of edges that
	// all advertise a snapshot they cannot serve does not stall the loop.
	MaxGossipGraphCandidates = 4
)

// Hot-path wire protocol (hot/proto, hot/server, hot/client).
const (
	// MaxHotArgsBytes bounds the arguments of one hot-path invocation. Hot
	// path work is small by definition (FastPath: ≤ 1ms); bigger inputs
	// belong on the normal invocation path. The server keeps the bytes of
	// every invocation in flight, so this times the session windows bounds
	// a connection's pinned memory.
	MaxHotArgsBytes = 64 << 10

	// MaxHotOutputBytes bounds what one handler may answer. A larger output
	// turns the result into a TooLarge failure instead of a response frame
	// the client would refuse.
	MaxHotOutputBytes = 64 << 10

	// MaxHotCertificateBytes bounds the certificate a session open carries.
	// A certificate with its inclusion proof and signed checkpoint is a few
	// KiB; the bound is what an unauthenticated peer may make the server
	// buffer, so it is far below MaxCertificateBytes.
	MaxHotCertificateBytes = 16 << 10

	// MaxHotControlBytes bounds a control frame (hello, session open and
	// close, errors). The largest is a session open, which carries one
	// certificate (MaxHotCertificateBytes) plus a key and a signature.
	MaxHotControlBytes = MaxHotCertificateBytes + 4<<10

	// MaxHotFrameBytes bounds any frame's length field: the largest control
	// frame or invocation. A length beyond it means the peer is not speaking
	// the protocol (or framing is lost), so the connection is closed after
	// an error frame.
	MaxHotFrameBytes = max(MaxHotControlBytes, MaxHotArgsBytes+64)

	// MaxHotPreAuthConns bounds the connections that have not yet opened a
	// session. Until one does, a connection reads frame by frame into
	// buffers that grow only as bytes arrive (at most MaxHotControlBytes,
	// within a frame timeout), so unauthenticated peers together hold at
	// most MaxHotPreAuthConns × MaxHotControlBytes (5 MiB) for seconds.
	MaxHotPreAuthConns = 256

	// HotReadChunkBytes is the size of the buffers a connection reads into.
	// Invocation arguments are borrowed from them until the invocation
	// completes, so a chunk is reused only when every invocation it carried
	// is done. It holds at least one largest invocation frame.
	HotReadChunkBytes = 128 << 10

	// Every frame fits in one chunk (checked below).
	_ uint = HotReadChunkBytes - MaxHotFrameBytes

	// MaxHotConnChunks bounds the read chunks one connection may pin
	// (16 MiB). When all are pinned by invocations in flight the connection
	// stops reading until one frees: TCP back-pressure, not a drop.
	MaxHotConnChunks = 128

	// MaxHotConnPendingBytes bounds the responses a connection has queued
	// but not yet written. Beyond it the server stops reading that
	// connection's requests until the client reads its responses, so a
	// client that never reads cannot grow the server's memory.
	MaxHotConnPendingBytes = 8 << 20

	// MaxHotSessionsPerConn bounds the sessions open at once on one
	// connection. Each holds a dispatcher session, a response buffer and a
	// window-sized in-flight ring.
	MaxHotSessionsPerConn = 1024

	// MaxHotConns is the default bound on concurrent hot-path connections
	// per server; each costs two goroutines and at least one read chunk.
	MaxHotConns = 4096
)

// MaxResponseBody bounds what the Go client reads from one API answer: a
// full page of MaxQueryLimit events, or a batch of MaxBatchInvocations
// outcomes with their certificates, fits well inside it.
const MaxResponseBody = 256 << 20

// Hot path in the cluster (hot/node, cluster/hotlease, fsm hot-path commands).
const (
	// MaxHotPathSessions bounds the per-certificate entries of one
	// HotPathBatch event. A node commits one event per flush interval or
	// per this many closed session batches, whichever comes first, so the
	// event (about 200 bytes per entry) stays far below a Raft entry.
	MaxHotPathSessions = 256

	// MaxHotLeaseBlock bounds the uses one quota lease may ask for. A node
	// holds what it leased until it spends or returns it; a bounded block
	// keeps a crashed node from pinning a link's whole budget at once.
	MaxHotLeaseBlock = 1 << 20

	// MaxOpenHotLeases bounds the lease records (sessions that leased and
	// have not returned) in the replicated state. A crashed node leaves its
	// records behind, so they must not grow without bound.
	MaxOpenHotLeases = 1 << 16

	// MaxHotLeaseIDLen bounds a lease ID (node-chosen, names one session's
	// leases).
	MaxHotLeaseIDLen = 64
)

// Snapshots of a running cluster (cluster/backup, GET /v1/snapshot).
const (
	// MaxSnapshotMetaBytes bounds the metadata section of a snapshot file:
	// a JSON object of a dozen fields is well under 1 KiB. The decoder reads
	// the section into memory, so a claimed length beyond this is refused as
	// damage before anything is allocated.
	MaxSnapshotMetaBytes = 64 << 10

	// MaxSnapshotStateBytes bounds the state section a snapshot file may
	// claim: 1 TiB, beyond any state.db a node maps (bbolt maps the whole
	// file). A larger claimed length is damage; restore refuses it before
	// writing a byte.
	MaxSnapshotStateBytes = 1 << 40

	// MaxConcurrentSnapshots is how many snapshots one node serves at once.
	// Each spools a full copy of state.db to the node's disk before it is
	// streamed (a slow reader must not hold a bbolt read transaction: that
	// blocks the file's growth and with it every apply), so one at a time
	// bounds the extra disk to one copy of the state.
	MaxConcurrentSnapshots = 1
)
