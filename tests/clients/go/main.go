// sluice-go-client drives the Go Kafka clients (franz-go's kgo and kadm, IBM sarama) against a
// broker for tests/clients/test_go_clients.py. One run is one scenario of one client; it prints one
// JSON object on stdout (what it produced, consumed, saw) and exits 0, or prints the error on
// stderr and exits 1. The Python test asserts on the JSON; this program only reports.
//
//	sluice-go-client CLIENT SCENARIO -bootstrap HOST:PORT -topic T [flags]
//
// CLIENT is franz or sarama. SCENARIOS:
//
//	produce-consume  an idempotent producer with -codec writes -records records to the 2 partitions of
//	                 -topic (created first), then a consumer reads them all back.
//	group            two members of -group consume -topic (4 partitions), one leaves; see group.go.
//	admin            create -topic with configs, list, describe, describe configs, delete.
//
// Record i is the same in every client and in the Python test: partition i%2, key "key-<i>", one
// header ("seq", "<i>"), and Value(codec, i) below.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"sort"
	"time"
)

// Rec is one record as produced or consumed.
type Rec struct {
	Partition int32       `json:"p"`
	Offset    int64       `json:"o"`
	Key       []byte      `json:"k"`
	Value     []byte      `json:"v"`
	Headers   [][2][]byte `json:"h"`
	Member    string      `json:"m,omitempty"`
}

// Value is record i's value: text, then up to 299 bytes of every value 0..255, then repeated text
// (so each codec has something to compress and a byte-exact comparison means something).
func Value(tag string, i int) []byte {
	v := []byte(fmt.Sprintf("%s %d ", tag, i))
	for j := 0; j < i%300; j++ {
		v = append(v, byte((i*7+j)%256))
	}
	for j := 0; j < 20; j++ {
		v = append(v, "compressible "...)
	}
	return v
}

// Records makes records [from, from+n) for `partitions` partitions, tagged `tag`.
func Records(tag string, from, n int, partitions int32) []Rec {
	out := make([]Rec, 0, n)
	for i := from; i < from+n; i++ {
		out = append(out, Rec{
			Partition: int32(i) % partitions,
			Offset:    -1,
			Key:       []byte(fmt.Sprintf("key-%d", i)),
			Value:     Value(tag, i),
			Headers:   [][2][]byte{{[]byte("seq"), []byte(fmt.Sprint(i))}},
		})
	}
	return out
}

// Client is what each scenario needs of a client library.
type Client interface {
	// CreateTopic creates a topic with replication factor 1 and the given configs.
	CreateTopic(ctx context.Context, topic string, partitions int32, configs map[string]string) error
	// Produce writes recs with an idempotent producer compressing with codec, waits for every
	// ack and returns the producer id it used and recs with their acked offsets.
	Produce(ctx context.Context, topic, codec string, recs []Rec) (int64, []Rec, error)
	// Consume reads n records of topic's partitions from the start (no group).
	Consume(ctx context.Context, topic string, partitions int32, n int) ([]Rec, error)
	// NewMember starts a member of group consuming topic; consumed records go to out.
	NewMember(ctx context.Context, name, group, topic string, out chan<- Rec) (Member, error)
	// Committed is the group's committed offset of each partition (-1 if none).
	Committed(ctx context.Context, group, topic string, partitions int32) (map[int32]int64, error)
	// EndOffsets is each partition's high watermark.
	EndOffsets(ctx context.Context, topic string, partitions int32) (map[int32]int64, error)
	// GroupState is the group's state as DescribeGroups tells it.
	GroupState(ctx context.Context, group string) (string, error)
	// Admin runs the admin scenario.
	Admin(ctx context.Context, topic string) (map[string]any, error)
	Close()
}

// Member is one group member.
type Member interface {
	// Assigned is the member's current assignment, sorted.
	Assigned() []int32
	// Close leaves the group (committing what it consumed) and stops the member.
	Close() error
}

func sorted(ps []int32) []int32 {
	out := append([]int32(nil), ps...)
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

func main() {
	if len(os.Args) < 3 {
		fmt.Fprintln(os.Stderr, "usage: sluice-go-client franz|sarama produce-consume|group|admin [flags]")
		os.Exit(2)
	}
	which, scenario := os.Args[1], os.Args[2]
	fs := flag.NewFlagSet(scenario, flag.ExitOnError)
	bootstrap := fs.String("bootstrap", "", "HOST:PORT")
	topic := fs.String("topic", "go-test", "topic")
	codec := fs.String("codec", "none", "none|gzip|snappy|lz4|zstd")
	records := fs.Int("records", 1000, "records to produce")
	group := fs.String("group", "go-group", "consumer group")
	timeout := fs.Duration("timeout", 45*time.Second, "the whole scenario's deadline")
	if err := fs.Parse(os.Args[3:]); err != nil || *bootstrap == "" {
		fmt.Fprintln(os.Stderr, "-bootstrap is required")
		os.Exit(2)
	}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()

	var cl Client
	var err error
	switch which {
	case "franz":
		cl, err = NewFranz(*bootstrap)
	case "sarama":
		cl, err = NewSarama(*bootstrap)
	default:
		err = fmt.Errorf("unknown client %q", which)
	}
	if err != nil {
		fail(err)
	}
	defer cl.Close()

	var result map[string]any
	switch scenario {
	case "produce-consume":
		result, err = ProduceConsume(ctx, cl, *topic, *codec, *records)
	case "group":
		result, err = Group(ctx, cl, *topic, *group)
	case "admin":
		result, err = cl.Admin(ctx, *topic)
	default:
		err = fmt.Errorf("unknown scenario %q", scenario)
	}
	if err != nil {
		fail(err)
	}
	out, err := json.Marshal(result)
	if err != nil {
		fail(err)
	}
	fmt.Println(string(out))
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "sluice-go-client:", err)
	os.Exit(1)
}

// ProduceConsume creates topic (2 partitions), produces n records with codec and reads them back.
func ProduceConsume(ctx context.Context, cl Client, topic, codec string, n int) (map[string]any, error) {
	if err := cl.CreateTopic(ctx, topic, 2, nil); err != nil {
		return nil, fmt.Errorf("create topic: %w", err)
	}
	pid, acked, err := cl.Produce(ctx, topic, codec, Records(codec, 0, n, 2))
	if err != nil {
		return nil, fmt.Errorf("produce: %w", err)
	}
	consumed, err := cl.Consume(ctx, topic, 2, n)
	if err != nil {
		return nil, fmt.Errorf("consume: %w", err)
	}
	return map[string]any{"producer_id": pid, "acked": acked, "consumed": consumed}, nil
}
