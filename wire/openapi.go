package wire

import _ "embed"

// OpenAPI is the OpenAPI 3 document of the HTTP API (servers and edge
// nodes), served at GET /v1/openapi.json. A test checks that it names
// every route the servers register and that real answers match it.
//
//go:embed openapi.json
var OpenAPI []byte
