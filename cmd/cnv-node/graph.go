package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/cnv-project/cnv/runtime/graph"
	"github.com/cnv-project/cnv/runtime/limits"
)

func newGraphCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "graph",
		Short: "Query the capability graph: reachability, paths, composition, dominance, classes",
		Long: "Query a capability graph built from a capability file (--file). Nodes are named by\n" +
			"capability path, or path@version when several versions exist. Path queries honour\n" +
			"the file's path policies and name the policy that excluded a path.",
	}
	cmd.PersistentFlags().String("file", "", "capability file (JSON) to build the graph from")
	cmd.PersistentFlags().String("addr", "", "query a running node's graph instead of --file (env CNV_ADDR)")
	addClientTLSFlags(cmd.PersistentFlags())
	cmd.PersistentFlags().Duration("timeout", 30*time.Second, "with --addr: request timeout")
	cmd.PersistentFlags().String("consistency", "", "with --addr: stale (default: the node's local snapshot) or linearizable")
	cmd.PersistentFlags().Uint64("min-index", 0, "with --addr: wait until the node's snapshot reflects this Raft index")
	cmd.AddCommand(
		newGraphPairCmd(graph.OpReachable, "Is there a chain of produces/requires edges from A to B", printBool),
		newGraphPairCmd(graph.OpPath, "The shortest allowed path from A to B", printPath),
		newGraphPathsCmd(),
		newGraphComposeCmd(),
		newGraphPairCmd(graph.OpDominates, "Does A dominate B (explicit edge, or strictly more effects)", printBool),
		newGraphNoArgCmd(graph.OpClasses, "Equivalence classes over equivalent edges", printClasses),
		newGraphNoArgCmd(graph.OpStats, "Node and edge counts, depth, components", printStats),
		newGraphNoArgCmd(graph.OpDot, "The graph in Graphviz DOT", printDot),
	)
	return cmd
}

// graphPrinter renders one result for people.
type graphPrinter func(w io.Writer, res any)

func newGraphPairCmd(op, short string, print graphPrinter) *cobra.Command {
	return &cobra.Command{
		Use:   op + " A B --file caps.json",
		Short: short,
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runGraph(cmd, graph.Request{Op: op, From: args[0], To: args[1]}, print)
		},
	}
}

func newGraphPathsCmd() *cobra.Command {
	var depth int
	cmd := &cobra.Command{
		Use:   "paths A B --file caps.json [--max-depth N]",
		Short: "Every simple path from A to B of at most N nodes, and those a policy excluded",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if depth < 1 || depth > limits.MaxGraphPathNodes {
				return exitWith(exitUsage, "--max-depth %d: want 1 to %d", depth, limits.MaxGraphPathNodes)
			}
			return runGraph(cmd, graph.Request{Op: graph.OpPaths, From: args[0], To: args[1], MaxDepth: depth}, printPaths)
		},
	}
	cmd.Flags().IntVar(&depth, "max-depth", graph.DefaultMaxDepth,
		fmt.Sprintf("longest path in nodes (1 to %d)", limits.MaxGraphPathNodes))
	return cmd
}

func newGraphComposeCmd() *cobra.Command {
	var from, to string
	cmd := &cobra.Command{
		Use:   "compose --from TYPE --to TYPE --file caps.json",
		Short: "The shortest chain of capabilities turning a FROM value into a TO value",
		Long: "The shortest chain over produces edges whose schemas fit at every step. TYPE is a\n" +
			"type name (User, string) or a JSON schema object.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			req, err := composeRequest(from, to)
			if err != nil {
				return err
			}
			return runGraph(cmd, req, printPath)
		},
	}
	cmd.Flags().StringVar(&from, "from", "", "input type")
	cmd.Flags().StringVar(&to, "to", "", "output type")
	return cmd
}

func composeRequest(from, to string) (graph.Request, error) {
	if from == "" || to == "" {
		return graph.Request{}, exitWith(exitUsage, "--from and --to are required")
	}
	ft, err := graph.ParseType(from)
	if err != nil {
		return graph.Request{}, exitWith(exitUsage, "--from: %v", err)
	}
	tt, err := graph.ParseType(to)
	if err != nil {
		return graph.Request{}, exitWith(exitUsage, "--to: %v", err)
	}
	return graph.Request{Op: graph.OpCompose, FromType: ft, ToType: tt}, nil
}

func newGraphNoArgCmd(op, short string, print graphPrinter) *cobra.Command {
	var nontrivial bool
	cmd := &cobra.Command{
		Use:   op + " --file caps.json",
		Short: short,
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runGraph(cmd, graph.Request{Op: op, Nontrivial: nontrivial}, print)
		},
	}
	if op == graph.OpClasses {
		cmd.Flags().BoolVar(&nontrivial, "nontrivial", false, "leave out single-capability classes")
	}
	return cmd
}

// runGraph answers req and prints the result.
func runGraph(cmd *cobra.Command, req graph.Request, print graphPrinter) error {
	if useRemoteGraph(cmd) {
		res, ans, err := graphQueryRemote(cmd, req)
		if err != nil {
			return err
		}
		if dot, ok := res.(graph.DotResult); ok && !jsonOutput(cmd) {
			_, err := io.WriteString(cmd.OutOrStdout(), dot.Dot)
			return err
		}
		return emit(cmd, withIndex(res, ans), func(w io.Writer) { print(w, res) })
	}
	res, err := graphQuery(cmd, req)
	if err != nil {
		return err
	}
	if dot, ok := res.(graph.DotResult); ok && !jsonOutput(cmd) {
		_, err := io.WriteString(cmd.OutOrStdout(), dot.Dot)
		return err
	}
	return emit(cmd, res, func(w io.Writer) { print(w, res) })
}

// useRemoteGraph reports whether the query goes to a node: --addr, or
// CNV_ADDR without --file.
func useRemoteGraph(cmd *cobra.Command) bool {
	a, _ := cmd.Flags().GetString("addr")
	f, _ := cmd.Flags().GetString("file")
	return a != "" || (f == "" && os.Getenv("CNV_ADDR") != "")
}

// graphQuery is where a request is answered: offline over --file, by
// graph.Execute on a snapshot. A node answers the same Request with the
// same result types, so pointing these commands at a node only changes
// this function.
func graphQuery(cmd *cobra.Command, req graph.Request) (any, error) {
	file, _ := cmd.Flags().GetString("file")
	if file == "" {
		return nil, exitWith(exitUsage, "--file is required")
	}
	data, err := readFileLimit(file, limits.MaxCapabilityFileBytes)
	if err != nil {
		return nil, inputErr(err)
	}
	snap, err := graph.BuildFile(data, 0)
	if err != nil {
		return nil, exitWith(exitInput, "%s: %v", file, err)
	}
	res, err := graph.Execute(snap, req)
	switch {
	case errors.Is(err, graph.ErrInvalidQuery):
		return nil, exitWith(exitUsage, "%v", err)
	case err != nil:
		return nil, exitWith(codeOf(err), "%v", err)
	}
	return res, nil
}

func printBool(w io.Writer, res any) {
	switch r := res.(type) {
	case graph.ReachableResult:
		fmt.Fprintln(w, r.Reachable)
	case graph.DominatesResult:
		fmt.Fprintln(w, r.Dominates)
	}
}

func printPath(w io.Writer, res any) {
	r := res.(graph.PathResult)
	if r.Path == nil {
		fmt.Fprintln(w, "no path")
	} else {
		fmt.Fprintln(w, strings.Join(r.Path, " -> "))
	}
	if r.ExcludedBy != nil {
		fmt.Fprintf(w, "shortest path excluded by policy: %s\n", r.ExcludedBy)
	}
}

func printPaths(w io.Writer, res any) {
	r := res.(graph.PathsResult)
	for _, p := range r.Paths {
		fmt.Fprintln(w, strings.Join(p, " -> "))
	}
	for _, e := range r.Excluded {
		fmt.Fprintf(w, "excluded by %s: %s\n", e.Policy, strings.Join(e.Path, " -> "))
	}
	if len(r.Paths) == 0 && len(r.Excluded) == 0 {
		fmt.Fprintln(w, "no path")
	}
	if r.Truncated {
		fmt.Fprintln(w, "(truncated: too many paths; lower --max-depth)")
	}
}

func printClasses(w io.Writer, res any) {
	for _, c := range res.(graph.ClassesResult).Classes {
		fmt.Fprintln(w, strings.Join(c, " "))
	}
}

func printStats(w io.Writer, res any) {
	st := res.(graph.Stats)
	fmt.Fprintf(w, "nodes:        %d\nedges:        %d\navg degree:   %.2f\nmax depth:    %d\n",
		st.Nodes, st.Edges, st.AvgDegree, st.MaxDepth)
	fmt.Fprintf(w, "components:   %d (largest %d)\nclasses:      %d\npolicies:     %d\n",
		st.Components, st.LargestComponent, st.Classes, st.Policies)
	for _, t := range []string{"produces", "requires", "equivalent", "dominates", "custom"} {
		fmt.Fprintf(w, "  %-11s %d\n", t+":", st.EdgesByType[t])
	}
	if st.IncompatibleProduces > 0 {
		fmt.Fprintf(w, "warning: %d produces edges join incompatible schemas\n", st.IncompatibleProduces)
	}
	fmt.Fprintf(w, "hash:         %s\n", st.Hash)
}

func printDot(w io.Writer, res any) { io.WriteString(w, res.(graph.DotResult).Dot) }
