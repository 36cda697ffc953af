// Package cnverr holds cnv's structured error: a kind from a fixed
// vocabulary, a message and details. Every layer returns these (directly or
// wrapped with %w), the API renders them as {"error":{"kind","message",
// "details"}}, and HTTPStatus maps a kind to its status code.
//
// Package-level sentinels are *Error values; wrap them with fmt.Errorf("%w")
// and test with errors.Is. KindOf finds the kind anywhere in a wrap chain.
package cnverr
