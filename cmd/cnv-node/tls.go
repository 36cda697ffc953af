package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/cnv-project/cnv/tlsutil"
)

// The files `tls` writes, in the shape of `consul tls`: the CA, then one
// certificate and key per node or client, in --dir.
const (
	caCertFile = "cnv-ca.pem"
	caKeyFile  = "cnv-ca-key.pem"
)

func nodeCertFiles(id string) (string, string) {
	return "node-" + id + ".pem", "node-" + id + "-key.pem"
}
func clientCertFiles(name string) (string, string) {
	return "client-" + name + ".pem", "client-" + name + "-key.pem"
}

func newTLSCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "tls",
		Short: "Create the cluster's TLS CA and node and client certificates",
		Long: `Create the TLS material a cluster runs with (ECDSA P-256, PEM; openssl reads it):

  cnv-node tls ca create                      → cnv-ca.pem, cnv-ca-key.pem
  cnv-node tls cert create --node n1 [--ip A] → node-n1.pem, node-n1-key.pem
  cnv-node tls cert create --client ops       → client-ops.pem, client-ops-key.pem

A node certificate serves and dials Raft, node-to-node calls and the API; a
client certificate authenticates an API client (--verify-incoming). Node
certificates always name 127.0.0.1 and localhost. Keep the CA key off the nodes.`,
	}
	ca := &cobra.Command{Use: "ca", Short: "The certificate authority"}
	ca.AddCommand(newTLSCACreateCmd())
	cert := &cobra.Command{Use: "cert", Short: "Node and client certificates"}
	cert.AddCommand(newTLSCertCreateCmd())
	cmd.AddCommand(ca, cert)
	return cmd
}

func newTLSCACreateCmd() *cobra.Command {
	var dir, name string
	var days int
	cmd := &cobra.Command{
		Use:   "create [--dir DIR]",
		Short: "Create a CA (cnv-ca.pem, cnv-ca-key.pem)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, k, err := tlsutil.CreateCA(tlsutil.CAOptions{Name: name, Days: days})
			if err != nil {
				return err
			}
			files, err := writeCertPair(dir, caCertFile, caKeyFile, c, k)
			if err != nil {
				return err
			}
			return emit(cmd, files, func(w io.Writer) { fmt.Fprintf(w, "wrote %s and %s\n", files["cert"], files["key"]) })
		},
	}
	cmd.Flags().StringVar(&dir, "dir", ".", "directory to write into")
	cmd.Flags().StringVar(&name, "name", "cnv CA", "the CA's common name")
	cmd.Flags().IntVar(&days, "days", tlsutil.DefaultCADays, "validity in days")
	return cmd
}

func newTLSCertCreateCmd() *cobra.Command {
	var dir, caFile, caKey, node, clientName string
	var dns []string
	var ips []net.IP
	var days int
	cmd := &cobra.Command{
		Use:   "create (--node ID | --client NAME) [--dns NAME] [--ip ADDR] [--dir DIR]",
		Short: "Create a node or client certificate signed by the CA",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if (node == "") == (clientName == "") {
				return exitWith(exitUsage, "give exactly one of --node ID and --client NAME")
			}
			caPEM, err := os.ReadFile(orDefault(caFile, filepath.Join(dir, caCertFile)))
			if err != nil {
				return exitWith(exitUsage, "CA certificate: %v (run `cnv-node tls ca create` first)", err)
			}
			keyPEM, err := os.ReadFile(orDefault(caKey, filepath.Join(dir, caKeyFile)))
			if err != nil {
				return exitWith(exitUsage, "CA key: %v", err)
			}
			c, k, err := tlsutil.CreateCert(caPEM, keyPEM, tlsutil.CertOptions{Node: node, Client: clientName, DNS: dns, IPs: ips, Days: days})
			if err != nil {
				return exitWith(exitUsage, "%v", err)
			}
			certName, keyName := nodeCertFiles(node)
			if clientName != "" {
				certName, keyName = clientCertFiles(clientName)
			}
			files, err := writeCertPair(dir, certName, keyName, c, k)
			if err != nil {
				return err
			}
			return emit(cmd, files, func(w io.Writer) { fmt.Fprintf(w, "wrote %s and %s\n", files["cert"], files["key"]) })
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&node, "node", "", "node ID the certificate names (server and client use)")
	fl.StringVar(&clientName, "client", "", "client name the certificate names (client use)")
	fl.StringSliceVar(&dns, "dns", nil, "extra DNS names (comma-separated or repeated)")
	fl.IPSliceVar(&ips, "ip", nil, "extra IP addresses (comma-separated or repeated)")
	fl.StringVar(&dir, "dir", ".", "directory holding the CA and receiving the files")
	fl.StringVar(&caFile, "ca", "", "CA certificate (default DIR/"+caCertFile+")")
	fl.StringVar(&caKey, "ca-key", "", "CA private key (default DIR/"+caKeyFile+")")
	fl.IntVar(&days, "days", tlsutil.DefaultCertDays, "validity in days")
	return cmd
}

// writeCertPair writes a certificate (0644) and its key (0600), never over
// existing files.
func writeCertPair(dir, certName, keyName string, cert, key []byte) (map[string]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	files := map[string]string{"cert": filepath.Join(dir, certName), "key": filepath.Join(dir, keyName)}
	for _, p := range files {
		if _, err := os.Stat(p); err == nil {
			return nil, exitWith(exitUsage, "%s exists; remove it first to replace it", p)
		} else if !errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
	}
	if err := os.WriteFile(files["key"], key, 0o600); err != nil {
		return nil, err
	}
	if err := os.WriteFile(files["cert"], cert, 0o644); err != nil {
		return nil, err
	}
	return files, nil
}
