package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Franz is franz-go: kgo for producing and consuming, kadm for the admin API. kgo's producer is
// idempotent unless told otherwise (and acks=all), so Produce only picks the codec.
type Franz struct {
	bootstrap string
	cl        *kgo.Client
	adm       *kadm.Client
}

func NewFranz(bootstrap string) (*Franz, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(bootstrap))
	if err != nil {
		return nil, err
	}
	return &Franz{bootstrap: bootstrap, cl: cl, adm: kadm.NewClient(cl)}, nil
}

func (f *Franz) Close() { f.cl.Close() }

func franzCodec(codec string) (kgo.CompressionCodec, error) {
	switch codec {
	case "none":
		return kgo.NoCompression(), nil
	case "gzip":
		return kgo.GzipCompression(), nil
	case "snappy":
		return kgo.SnappyCompression(), nil
	case "lz4":
		return kgo.Lz4Compression(), nil
	case "zstd":
		return kgo.ZstdCompression(), nil
	}
	return kgo.CompressionCodec{}, fmt.Errorf("unknown codec %q", codec)
}

func (f *Franz) CreateTopic(ctx context.Context, topic string, partitions int32, configs map[string]string) error {
	cfg := map[string]*string{}
	for k, v := range configs {
		cfg[k] = kadm.StringPtr(v)
	}
	resp, err := f.adm.CreateTopic(ctx, partitions, 1, cfg, topic)
	if err != nil {
		return err
	}
	return resp.Err
}

func (f *Franz) Produce(ctx context.Context, topic, codec string, recs []Rec) (int64, []Rec, error) {
	c, err := franzCodec(codec)
	if err != nil {
		return 0, nil, err
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(f.bootstrap), kgo.DefaultProduceTopic(topic),
		kgo.ProducerBatchCompression(c), kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.RequiredAcks(kgo.AllISRAcks()))
	if err != nil {
		return 0, nil, err
	}
	defer cl.Close()
	krs := make([]*kgo.Record, len(recs))
	for i, r := range recs {
		kr := &kgo.Record{Partition: r.Partition, Key: r.Key, Value: r.Value}
		for _, h := range r.Headers {
			kr.Headers = append(kr.Headers, kgo.RecordHeader{Key: string(h[0]), Value: h[1]})
		}
		krs[i] = kr
	}
	if err := cl.ProduceSync(ctx, krs...).FirstErr(); err != nil {
		return 0, nil, err
	}
	pid, _, err := cl.ProducerID(ctx)
	if err != nil {
		return 0, nil, err
	}
	out := make([]Rec, len(recs))
	for i, kr := range krs {
		out[i] = recs[i]
		out[i].Partition, out[i].Offset = kr.Partition, kr.Offset
	}
	return pid, out, nil
}

func fromKgo(kr *kgo.Record, member string) Rec {
	r := Rec{Partition: kr.Partition, Offset: kr.Offset, Key: kr.Key, Value: kr.Value, Member: member}
	for _, h := range kr.Headers {
		r.Headers = append(r.Headers, [2][]byte{[]byte(h.Key), h.Value})
	}
	return r
}

func (f *Franz) Consume(ctx context.Context, topic string, partitions int32, n int) ([]Rec, error) {
	offsets := map[int32]kgo.Offset{}
	for p := int32(0); p < partitions; p++ {
		offsets[p] = kgo.NewOffset().AtStart()
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(f.bootstrap),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: offsets}))
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	var out []Rec
	for len(out) < n {
		fetches := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return out, fmt.Errorf("after %d of %d records: %w", len(out), n, err)
		}
		if errs := fetches.Errors(); len(errs) > 0 {
			return out, fmt.Errorf("fetch %s/%d: %w", errs[0].Topic, errs[0].Partition, errs[0].Err)
		}
		fetches.EachRecord(func(kr *kgo.Record) { out = append(out, fromKgo(kr, "")) })
	}
	return out, nil
}

// franzMember is a kgo group consumer with the cooperative-sticky balancer. It commits what each
// poll returned before polling again (auto-commit off) and what it has when partitions are revoked;
// BlockRebalanceOnPoll keeps a rebalance from happening between a poll and its commit.
type franzMember struct {
	cl   *kgo.Client
	done chan struct{}

	mu       sync.Mutex // guards assigned (written by kgo's callbacks, read by Assigned)
	assigned map[int32]bool
}

func (f *Franz) NewMember(ctx context.Context, name, group, topic string, out chan<- Rec) (Member, error) {
	m := &franzMember{done: make(chan struct{}), assigned: map[int32]bool{}}
	set := func(ps []int32, owned bool) {
		m.mu.Lock()
		defer m.mu.Unlock()
		for _, p := range ps {
			if owned {
				m.assigned[p] = true
			} else {
				delete(m.assigned, p)
			}
		}
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(f.bootstrap), kgo.ClientID("sluice-go-"+name),
		kgo.ConsumerGroup(group), kgo.ConsumeTopics(topic),
		kgo.Balancers(kgo.CooperativeStickyBalancer()),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.DisableAutoCommit(), kgo.BlockRebalanceOnPoll(),
		kgo.HeartbeatInterval(100*time.Millisecond), kgo.SessionTimeout(6*time.Second),
		kgo.RebalanceTimeout(10*time.Second), kgo.FetchMaxWait(200*time.Millisecond),
		kgo.OnPartitionsAssigned(func(_ context.Context, _ *kgo.Client, ps map[string][]int32) {
			set(ps[topic], true)
		}),
		kgo.OnPartitionsRevoked(func(ctx context.Context, cl *kgo.Client, ps map[string][]int32) {
			if err := cl.CommitUncommittedOffsets(ctx); err != nil {
				fmt.Fprintf(os.Stderr, "member %s: commit on revoke: %v\n", name, err)
			}
			set(ps[topic], false)
		}),
		kgo.OnPartitionsLost(func(_ context.Context, _ *kgo.Client, ps map[string][]int32) {
			set(ps[topic], false)
		}))
	if err != nil {
		return nil, err
	}
	m.cl = cl
	go func() {
		defer close(m.done)
		for {
			fetches := cl.PollFetches(context.Background())
			if fetches.IsClientClosed() {
				return
			}
			fetches.EachError(func(t string, p int32, err error) {
				if !errors.Is(err, context.Canceled) {
					fmt.Fprintf(os.Stderr, "member %s: fetch %s/%d: %v\n", name, t, p, err)
				}
			})
			fetches.EachRecord(func(kr *kgo.Record) { out <- fromKgo(kr, name) })
			if err := cl.CommitUncommittedOffsets(context.Background()); err != nil {
				fmt.Fprintf(os.Stderr, "member %s: commit: %v\n", name, err)
			}
			cl.AllowRebalance()
		}
	}()
	return m, nil
}

func (m *franzMember) Assigned() []int32 {
	m.mu.Lock()
	defer m.mu.Unlock()
	var ps []int32
	for p := range m.assigned {
		ps = append(ps, p)
	}
	return sorted(ps)
}

func (m *franzMember) Close() error {
	m.cl.Close() // leaves the group (OnPartitionsRevoked commits first)
	<-m.done
	return nil
}

func (f *Franz) Committed(ctx context.Context, group, topic string, partitions int32) (map[int32]int64, error) {
	resp, err := f.adm.FetchOffsets(ctx, group)
	if err != nil {
		return nil, err
	}
	if err := resp.Error(); err != nil {
		return nil, err
	}
	out := map[int32]int64{}
	for p := int32(0); p < partitions; p++ {
		out[p] = -1
		if o, ok := resp.Lookup(topic, p); ok {
			out[p] = o.At
		}
	}
	return out, nil
}

func (f *Franz) EndOffsets(ctx context.Context, topic string, partitions int32) (map[int32]int64, error) {
	listed, err := f.adm.ListEndOffsets(ctx, topic)
	if err != nil {
		return nil, err
	}
	if err := listed.Error(); err != nil {
		return nil, err
	}
	out := map[int32]int64{}
	for p := int32(0); p < partitions; p++ {
		o, ok := listed.Lookup(topic, p)
		if !ok {
			return nil, fmt.Errorf("no end offset for %s/%d", topic, p)
		}
		out[p] = o.Offset
	}
	return out, nil
}

func (f *Franz) GroupState(ctx context.Context, group string) (string, error) {
	described, err := f.adm.DescribeGroups(ctx, group)
	if err != nil {
		return "", err
	}
	g, ok := described[group]
	if !ok {
		return "", fmt.Errorf("group %s not described", group)
	}
	if g.Err != nil {
		return "", g.Err
	}
	return g.State, nil
}

// Admin: create the topic with configs (and a second with a bad one), list and describe topics,
// describe the topic's configs, delete it, list again.
func (f *Franz) Admin(ctx context.Context, topic string) (map[string]any, error) {
	res := map[string]any{}
	created, err := f.adm.CreateTopic(ctx, 3, 1, map[string]*string{
		"retention.ms":      kadm.StringPtr("3600000"),
		"max.message.bytes": kadm.StringPtr("2097152"),
		"cleanup.policy":    kadm.StringPtr("delete"),
	}, topic)
	if err != nil {
		return nil, fmt.Errorf("create: %w", err)
	}
	res["create_error"] = errString(created.Err)
	// CreateTopics (not CreateTopic, which also returns the topic's error as its own).
	bads, err := f.adm.CreateTopics(ctx, 1, 1, map[string]*string{"no.such.config": kadm.StringPtr("1")}, topic+"-bad")
	if err != nil {
		return nil, fmt.Errorf("create bad: %w", err)
	}
	bad, ok := bads[topic+"-bad"]
	if !ok {
		return nil, fmt.Errorf("create bad: no response for %s-bad", topic)
	}
	res["create_bad_error"] = errString(bad.Err) + ": " + bad.ErrMessage

	all, err := f.adm.ListTopics(ctx)
	if err != nil {
		return nil, fmt.Errorf("list: %w", err)
	}
	res["listed"] = append([]string{}, all.Names()...)
	one, err := f.adm.ListTopics(ctx, topic)
	if err != nil {
		return nil, fmt.Errorf("describe: %w", err)
	}
	d := one[topic]
	res["describe_error"] = errString(d.Err)
	parts := map[int32]any{}
	for p, pd := range d.Partitions {
		parts[p] = map[string]any{"leader": pd.Leader, "replicas": pd.Replicas, "isr": pd.ISR,
			"error": errString(pd.Err)}
	}
	res["describe_partitions"] = parts

	rcs, err := f.adm.DescribeTopicConfigs(ctx, topic)
	if err != nil {
		return nil, fmt.Errorf("describe configs: %w", err)
	}
	rc, err := rcs.On(topic, nil)
	if err != nil {
		return nil, fmt.Errorf("describe configs: %w", err)
	}
	res["configs_error"] = errString(rc.Err)
	configs := map[string]any{}
	for _, c := range rc.Configs {
		configs[c.Key] = map[string]any{"value": c.Value, "source": int(c.Source)}
	}
	res["configs"] = configs

	deleted, err := f.adm.DeleteTopics(ctx, topic)
	if err != nil {
		return nil, fmt.Errorf("delete: %w", err)
	}
	dr, ok := deleted[topic]
	if !ok {
		return nil, fmt.Errorf("delete: no response for %s", topic)
	}
	res["delete_error"] = errString(dr.Err)
	// kadm's ListTopics answers from kgo's metadata cache (up to MetadataMinAge, 5 s, old: it
	// would still list the deleted topic, with Kafka too); asking for authorized operations
	// sends a Metadata request of its own.
	after, err := f.adm.ListTopics(kadm.WithAuthorizedOps(ctx))
	if err != nil {
		return nil, fmt.Errorf("list after delete: %w", err)
	}
	res["listed_after_delete"] = append([]string{}, after.Names()...)
	return res, nil
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
