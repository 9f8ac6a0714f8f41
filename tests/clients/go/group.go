package main

import (
	"context"
	"fmt"
	"os"
	"reflect"
	"time"
)

// Group runs a consumer group through members coming and going, on a topic of 4 partitions where
// record i goes to partition i%4, in three phases of 100 records each:
//
//  1. member a joins alone: it must be assigned all 4 partitions and consume phase 1;
//  2. member b joins: the assignment must settle on two disjoint non-empty halves; phase 2 is
//     produced only then and each record must be consumed by its partition's owner;
//  3. b leaves: a must be assigned all 4 again and consume phase 3; then a leaves.
//
// After each phase every record produced so far has been consumed and the group's committed
// offsets reach the high watermarks (the members commit what they consume). The result reports
// the assignments, who consumed what, duplicates, and the final committed and end offsets; the
// Python test asserts on them.
func Group(ctx context.Context, cl Client, topic, group string) (map[string]any, error) {
	const partitions = 4
	const perPhase = 100
	if err := cl.CreateTopic(ctx, topic, partitions, nil); err != nil {
		return nil, fmt.Errorf("create topic: %w", err)
	}
	out := make(chan Rec, 1024)
	seen := map[string]Rec{} // by key
	duplicates := 0
	byMember := map[string]int{}
	// drainUntil collects consumed records until want() holds, or fails at the deadline.
	start := time.Now()
	drainUntil := func(what string, want func() (bool, error)) error {
		defer func() { fmt.Fprintf(os.Stderr, "group: %s at %.2fs\n", what, time.Since(start).Seconds()) }()
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			ok, err := want()
			if err != nil {
				return err
			}
			if ok {
				return nil
			}
			select {
			case r := <-out:
				if _, dup := seen[string(r.Key)]; dup {
					duplicates++
				}
				seen[string(r.Key)] = r
				byMember[r.Member]++
			case <-tick.C:
			case <-ctx.Done():
				return fmt.Errorf("waiting for %s: %w", what, ctx.Err())
			}
		}
	}
	allConsumed := func(n int) func() (bool, error) {
		return func() (bool, error) { return len(seen) == n, nil }
	}
	committedAt := func(n int) func() (bool, error) {
		return func() (bool, error) {
			c, err := cl.Committed(ctx, group, topic, partitions)
			if err != nil {
				return false, err
			}
			for p := int32(0); p < partitions; p++ {
				if c[p] != int64(n/partitions) {
					return false, nil
				}
			}
			return true, nil
		}
	}
	all := []int32{0, 1, 2, 3}
	result := map[string]any{}
	produce := func(phase, from int) error {
		_, _, err := cl.Produce(ctx, topic, "none", Records(fmt.Sprint("phase", phase), from, perPhase, partitions))
		return err
	}

	// Phase 1: a alone.
	if err := produce(1, 0); err != nil {
		return nil, fmt.Errorf("produce phase 1: %w", err)
	}
	a, err := cl.NewMember(ctx, "a", group, topic, out)
	if err != nil {
		return nil, fmt.Errorf("member a: %w", err)
	}
	if err := drainUntil("a to own every partition and consume phase 1", func() (bool, error) {
		return reflect.DeepEqual(a.Assigned(), all) && len(seen) == perPhase, nil
	}); err != nil {
		return nil, err
	}
	if err := drainUntil("phase 1's commits", committedAt(perPhase)); err != nil {
		return nil, err
	}
	result["phase1_a"] = a.Assigned()

	// Phase 2: b joins.
	b, err := cl.NewMember(ctx, "b", group, topic, out)
	if err != nil {
		return nil, fmt.Errorf("member b: %w", err)
	}
	split := func() (bool, error) {
		as, bs := a.Assigned(), b.Assigned()
		if len(as) == 0 || len(bs) == 0 || len(as)+len(bs) != partitions {
			return false, nil
		}
		union := sorted(append(append([]int32(nil), as...), bs...))
		return reflect.DeepEqual(union, all), nil
	}
	if err := drainUntil("a and b to split the partitions", split); err != nil {
		return nil, err
	}
	phase2A, phase2B := a.Assigned(), b.Assigned()
	result["phase2_a"], result["phase2_b"] = phase2A, phase2B
	if err := produce(2, perPhase); err != nil {
		return nil, fmt.Errorf("produce phase 2: %w", err)
	}
	if err := drainUntil("phase 2's records", allConsumed(2*perPhase)); err != nil {
		return nil, err
	}
	if err := drainUntil("phase 2's commits", committedAt(2*perPhase)); err != nil {
		return nil, err
	}
	// Each phase 2 record was consumed by the owner of its partition.
	owner := map[int32]string{}
	for _, p := range phase2A {
		owner[p] = "a"
	}
	for _, p := range phase2B {
		owner[p] = "b"
	}
	misrouted := 0
	phase2By := map[string]int{}
	for i := perPhase; i < 2*perPhase; i++ {
		r := seen[fmt.Sprintf("key-%d", i)]
		phase2By[r.Member]++
		if owner[r.Partition] != r.Member {
			misrouted++
		}
	}
	result["phase2_by_member"], result["phase2_misrouted"] = phase2By, misrouted
	// The assignment did not move while phase 2 was consumed.
	result["phase2_a_after"], result["phase2_b_after"] = a.Assigned(), b.Assigned()

	// Phase 3: b leaves.
	if err := b.Close(); err != nil {
		return nil, fmt.Errorf("b leaving: %w", err)
	}
	if err := drainUntil("a to own every partition again", func() (bool, error) {
		return reflect.DeepEqual(a.Assigned(), all), nil
	}); err != nil {
		return nil, err
	}
	result["phase3_a"] = a.Assigned()
	if err := produce(3, 2*perPhase); err != nil {
		return nil, fmt.Errorf("produce phase 3: %w", err)
	}
	if err := drainUntil("phase 3's records", allConsumed(3*perPhase)); err != nil {
		return nil, err
	}
	if err := drainUntil("phase 3's commits", committedAt(3*perPhase)); err != nil {
		return nil, err
	}
	phase3By := map[string]int{}
	for i := 2 * perPhase; i < 3*perPhase; i++ {
		phase3By[seen[fmt.Sprintf("key-%d", i)].Member]++
	}
	result["phase3_by_member"] = phase3By
	if err := a.Close(); err != nil {
		return nil, fmt.Errorf("a leaving: %w", err)
	}
	// Anything still buffered counts too (a duplicate would show here).
	for len(out) > 0 {
		r := <-out
		if _, dup := seen[string(r.Key)]; dup {
			duplicates++
		}
		seen[string(r.Key)] = r
	}

	// Every record consumed byte-exact.
	bad := 0
	for phase := 1; phase <= 3; phase++ {
		for _, want := range Records(fmt.Sprint("phase", phase), (phase-1)*perPhase, perPhase, partitions) {
			got, ok := seen[string(want.Key)]
			if !ok || got.Partition != want.Partition || string(got.Value) != string(want.Value) ||
				!reflect.DeepEqual(got.Headers, want.Headers) {
				bad++
			}
		}
	}
	committed, err := cl.Committed(ctx, group, topic, partitions)
	if err != nil {
		return nil, fmt.Errorf("committed offsets: %w", err)
	}
	end, err := cl.EndOffsets(ctx, topic, partitions)
	if err != nil {
		return nil, fmt.Errorf("end offsets: %w", err)
	}
	state, err := cl.GroupState(ctx, group)
	if err != nil {
		return nil, fmt.Errorf("group state: %w", err)
	}
	result["consumed"], result["duplicates"], result["wrong_records"] = len(seen), duplicates, bad
	result["by_member"], result["committed"], result["end"], result["state"] = byMember, committed, end, state
	return result, nil
}
