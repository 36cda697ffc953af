package nemesis

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
)

// Cut is a set of directed links to fault.
type Cut []Pair

// Split cuts every link between groups a and b, both directions.
func Split(a, b []string) Cut {
	return append(OneWay(a, b), OneWay(b, a)...)
}

// OneWay cuts the links from every node of from to every node of to only:
// to still reaches from.
func OneWay(from, to []string) Cut {
	var c Cut
	for _, f := range from {
		for _, t := range to {
			if f != t {
				c = append(c, Pair{f, t})
			}
		}
	}
	return c
}

// Isolate cuts node off from every other node, both directions.
func Isolate(ids []string, node string) Cut {
	return Split([]string{node}, without(ids, node))
}

// Halves shuffles ids with rng and splits them into a minority and a
// majority (the minority has len/2 nodes, rounded down).
func Halves(ids []string, rng *rand.Rand) (minority, majority []string) {
	s := slices.Clone(ids)
	rng.Shuffle(len(s), func(i, j int) { s[i], s[j] = s[j], s[i] })
	k := len(s) / 2
	return s[:k], s[k:]
}

// MajorityMinority cuts a random minority off from the majority.
func MajorityMinority(ids []string, rng *rand.Rand) (Cut, string) {
	min, maj := Halves(ids, rng)
	return Split(min, maj), fmt.Sprintf("minority %s | majority %s", group(min), group(maj))
}

// Bridge splits the nodes into two halves that cannot talk, except through
// one bridge node that talks to both (Jepsen's bridge). It needs at least
// three nodes.
func Bridge(ids []string, rng *rand.Rand) (Cut, string) {
	s := slices.Clone(ids)
	rng.Shuffle(len(s), func(i, j int) { s[i], s[j] = s[j], s[i] })
	if len(s) < 3 {
		return nil, "bridge needs 3 nodes"
	}
	bridge, rest := s[0], s[1:]
	a, b := rest[:len(rest)/2], rest[len(rest)/2:]
	return Split(a, b), fmt.Sprintf("%s <- %s -> %s", group(a), bridge, group(b))
}

// OneWayMinority cuts the links from a random minority to the majority
// only: the majority still reaches the minority.
func OneWayMinority(ids []string, rng *rand.Rand) (Cut, string) {
	min, maj := Halves(ids, rng)
	return OneWay(min, maj), fmt.Sprintf("%s -x-> %s (one way)", group(min), group(maj))
}

func without(ids []string, node string) []string {
	out := make([]string, 0, len(ids))
	for _, id := range ids {
		if id != node {
			out = append(out, id)
		}
	}
	return out
}

func group(ids []string) string { return "{" + strings.Join(ids, ",") + "}" }
