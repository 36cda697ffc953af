package main

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/cnv-project/cnv/client"
	hotclient "github.com/cnv-project/cnv/hot/client"
	"github.com/cnv-project/cnv/runtime/cnverr"
	"github.com/cnv-project/cnv/runtime/limits"
)

func newHotCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "hot",
		Short: "Certified hot-path sessions over the binary protocol (a node's --hot-addr)",
	}
	cmd.AddCommand(newHotSessionCmd())
	return cmd
}

// hotSummary is what `hot session` reports at the end.
type hotSummary struct {
	Session  hotclient.SessionInfo `json:"session"`
	OK       int                   `json:"ok"`
	Failed   int                   `json:"failed"`
	Accepted uint64                `json:"accepted"`
	Refused  uint64                `json:"refused"`
}

func newHotSessionCmd() *cobra.Command {
	var addr, certPath string
	var window int
	cmd := &cobra.Command{
		Use:   "session --addr HOT_ADDR --key K.key --certificate CERT.json",
		Short: "Open a hot-path session for a certificate and invoke it once per line of stdin",
		Long: `Dial a node's hot-path port, prove possession of --key, open a session for the
FastPath certificate in --certificate (the JSON a FastPath invocation returned),
then send each non-empty line of stdin as one invocation's arguments and print
each answer on its own line ("error: KIND: message" for a refusal or failure).
At the end the session is closed and a summary printed (stderr, or stdout as
JSON with --json).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if addr == "" {
				addr = os.Getenv("CNV_HOT_ADDR")
			}
			if addr == "" || certPath == "" {
				return exitWith(exitUsage, "--addr (or CNV_HOT_ADDR) and --certificate are required")
			}
			key, err := keyOf(cmd)
			if err != nil {
				return err
			}
			cert, err := hotReadFile(certPath, limits.MaxCertificateBytes)
			if err != nil {
				return exitWith(exitInput, "--certificate: %v", err)
			}
			tlsc, err := tlsOf(cmd)
			if err != nil {
				return err
			}
			return runHotSession(cmd, addr, hotclient.Options{Key: key, Window: window, Name: "cnv-node hot session", TLS: tlsc}, cert)
		},
	}
	cmd.Flags().StringVar(&addr, "addr", "", "node hot-path addresses host:port, comma-separated: the first that answers (env CNV_HOT_ADDR)")
	cmd.Flags().String("key", "", "private key the certificate was issued to (env CNV_KEY)")
	cmd.Flags().StringVar(&certPath, "certificate", "", "certificate JSON file")
	cmd.Flags().IntVar(&window, "window", 0, "invocations in flight to ask for (0: the server's)")
	addClientTLSFlags(cmd.Flags())
	return cmd
}

func runHotSession(cmd *cobra.Command, addr string, opts hotclient.Options, cert []byte) error {
	conn, err := dialAny(client.Endpoints(addr), opts)
	if err != nil {
		return exitWith(exitUnavailable, "%v", err)
	}
	defer conn.Close()
	ctx := cmd.Context()
	s, err := conn.OpenSession(ctx, cert)
	if err != nil {
		return exitWith(hotExitCode(err), "open session: %v", err)
	}
	sum := hotSummary{Session: s.Info()}
	var runErr error
	sum.OK, sum.Failed, runErr = hotclient.RunLines(ctx, s, cmd.InOrStdin(), cmd.OutOrStdout())
	rep, err := s.Close(ctx)
	if runErr == nil {
		runErr = err
	}
	sum.Accepted, sum.Refused = rep.Accepted, rep.Refused
	if jsonOutput(cmd) {
		_ = emit(cmd, sum, nil)
	} else {
		fmt.Fprintf(cmd.ErrOrStderr(), "session %d (%s on %s): %d ok, %d failed\n",
			sum.Session.ID, sum.Session.Capability, conn.Node(), sum.OK, sum.Failed)
	}
	switch {
	case runErr != nil:
		return runErr
	case sum.Failed > 0:
		return exitWith(exitError, "")
	}
	return nil
}

// dialAny dials the first hot-path address of addrs that answers.
func dialAny(addrs []string, opts hotclient.Options) (*hotclient.Conn, error) {
	err := errors.New("no hot-path address given")
	for _, a := range addrs {
		var conn *hotclient.Conn
		if conn, err = hotclient.Dial(a, opts); err == nil {
			return conn, nil
		}
	}
	return nil, err
}

// hotExitCode maps an error to the exit-code table by its kind.
func hotExitCode(err error) int { return codeOfKind(cnverr.KindOf(err)) }

// hotReadFile reads a file of at most max bytes.
func hotReadFile(path string, max int) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, int64(max)+1))
	if err == nil && len(b) > max {
		err = fmt.Errorf("larger than %d bytes", max)
	}
	return b, err
}
