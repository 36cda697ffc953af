package main

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/cnv-project/cnv/client"
	"github.com/cnv-project/cnv/runtime/principal"
)

// addRemoteFlags adds --addr (env CNV_ADDR), --timeout, --retry-for,
// --token (env CNV_TOKEN) and, when withKey, --key (env CNV_KEY) to a
// command that talks to a node.
func addRemoteFlags(cmd *cobra.Command, withKey bool) {
	cmd.Flags().String("addr", "", "node HTTP addresses, comma-separated: a request fails over to the next (host:port or URL; env CNV_ADDR)")
	cmd.Flags().Duration("timeout", 30*time.Second, "timeout of each attempt of a request")
	cmd.Flags().Duration("retry-for", 10*time.Second, "keep retrying (with backoff) this long while no endpoint answers or the cluster has no leader")
	cmd.Flags().String("token", "", "cluster token for membership changes (env CNV_TOKEN)")
	if withKey {
		cmd.Flags().String("key", "", "private key file that signs (env CNV_KEY)")
	}
	addClientTLSFlags(cmd.Flags())
}

// addrOf returns --addr or $CNV_ADDR (a comma-separated endpoint list,
// which the client fails over between); required.
func addrOf(cmd *cobra.Command) (string, error) {
	eps, err := addrsOf(cmd)
	if err != nil {
		return "", err
	}
	return strings.Join(eps, ","), nil
}

// addrsOf returns every address of a comma-separated --addr.
func addrsOf(cmd *cobra.Command) ([]string, error) {
	a, _ := cmd.Flags().GetString("addr")
	if a == "" {
		a = os.Getenv("CNV_ADDR")
	}
	eps := client.Endpoints(a)
	if len(eps) == 0 {
		return nil, exitWith(exitUsage, "--addr (or CNV_ADDR) is required")
	}
	return eps, nil
}

// nodeAddrOf returns the one node a command acts on (join, leave): a
// list would let the command act on another node than meant.
func nodeAddrOf(cmd *cobra.Command) (string, error) {
	eps, err := addrsOf(cmd)
	if err != nil {
		return "", err
	}
	if len(eps) != 1 {
		return "", exitWith(exitUsage, "%s acts on one node: give --addr NODE (one address, not %s)", cmd.CommandPath(), strings.Join(eps, ","))
	}
	return eps[0], nil
}

func keyOf(cmd *cobra.Command) (ed25519.PrivateKey, error) {
	k, _ := cmd.Flags().GetString("key")
	if k == "" {
		k = os.Getenv("CNV_KEY")
	}
	if k == "" {
		return nil, exitWith(exitUsage, "--key (or CNV_KEY) is required")
	}
	priv, err := principal.LoadPrivate(k)
	if err != nil {
		return nil, inputErr(fmt.Errorf("--key: %w", err))
	}
	return priv, nil
}

// remote returns a client for cmd's flags (signing when needKey), the
// node address and a context bounded by --timeout.
func remote(cmd *cobra.Command, needKey bool) (*client.Client, string, context.Context, context.CancelFunc, error) {
	addr, err := addrOf(cmd)
	if err != nil {
		return nil, "", nil, nil, err
	}
	opts := client.Options{}
	if needKey {
		if opts.Key, err = keyOf(cmd); err != nil {
			return nil, "", nil, nil, err
		}
	}
	timeout, _ := cmd.Flags().GetDuration("timeout")
	opts.Timeout = timeout
	opts.RetryFor, _ = cmd.Flags().GetDuration("retry-for")
	if opts.TLS, err = tlsOf(cmd); err != nil {
		return nil, "", nil, nil, err
	}
	opts.Token, _ = cmd.Flags().GetString("token")
	if opts.Token == "" {
		opts.Token = os.Getenv("CNV_TOKEN")
	}
	// --timeout bounds each attempt; retries add up to --retry-for.
	ctx, cancel := context.WithTimeout(cmd.Context(), timeout+opts.RetryFor)
	return client.New(opts), addr, ctx, cancel, nil
}

// remoteErr turns a client error into the command's exit (exitcodes.go):
// an API answer by its kind, no answer at all as unavailable.
func remoteErr(err error) error {
	var ae *client.APIError
	if errors.As(err, &ae) {
		return exitWith(codeOfKind(ae.Err.Kind), "%s: %s", ae.Err.Kind, ae.Err.Message)
	}
	if code := codeOf(err); code != exitError {
		return exitWith(code, "%v", err)
	}
	return exitWith(exitUnavailable, "%v", err)
}

// decodeGossipKey accepts a raw 16/24/32-byte key or its base64 form.
func decodeGossipKey(b []byte) ([]byte, error) {
	s := strings.TrimSpace(string(b))
	if k, err := base64.StdEncoding.DecodeString(s); err == nil && (len(k) == 16 || len(k) == 24 || len(k) == 32) {
		return k, nil
	}
	if len(b) == 16 || len(b) == 24 || len(b) == 32 {
		return b, nil
	}
	return nil, fmt.Errorf("gossip key must be 16, 24 or 32 bytes (raw or base64)")
}

// remoteRun runs fn with a client for cmd's flags (signing when needKey),
// the node address and a context bounded by --timeout; client errors
// become the command's exit (remoteErr).
func remoteRun(cmd *cobra.Command, needKey bool, fn func(ctx context.Context, cl *client.Client, addr string) error) error {
	cl, addr, ctx, cancel, err := remote(cmd, needKey)
	if err != nil {
		return err
	}
	defer cancel()
	defer cl.Close()
	if err := fn(ctx, cl, addr); err != nil {
		var ee *exitError_
		if errors.As(err, &ee) {
			return err
		}
		return remoteErr(err)
	}
	return nil
}

// remoteGet fetches an API path from the node at --addr (with the read
// flags' query) and prints it with human.
func remoteGet[T any](cmd *cobra.Command, path string, human func(w io.Writer, v T)) error {
	return remoteRun(cmd, false, func(ctx context.Context, cl *client.Client, addr string) error {
		var v T
		if err := cl.Get(ctx, addr, path+readQuery(cmd), &v); err != nil {
			return err
		}
		return emit(cmd, v, func(w io.Writer) { human(w, v) })
	})
}
