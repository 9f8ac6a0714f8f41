package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/IBM/sarama"
)

// Sarama is IBM sarama with its default protocol version (sarama.DefaultVersion, Kafka 2.8; sarama
// then lowers each request's version to what the broker's ApiVersions offers), its idempotent
// producer, its cooperative-sticky consumer group and its ClusterAdmin.
type Sarama struct {
	addrs  []string
	client sarama.Client
	admin  sarama.ClusterAdmin // owns client
}

func saramaConfig() *sarama.Config {
	cfg := sarama.NewConfig()
	cfg.ClientID = "sluice-go-sarama"
	return cfg
}

func NewSarama(bootstrap string) (*Sarama, error) {
	addrs := []string{bootstrap}
	client, err := sarama.NewClient(addrs, saramaConfig())
	if err != nil {
		return nil, err
	}
	admin, err := sarama.NewClusterAdminFromClient(client)
	if err != nil {
		client.Close()
		return nil, err
	}
	return &Sarama{addrs: addrs, client: client, admin: admin}, nil
}

func (s *Sarama) Close() { s.admin.Close() }

func saramaCodec(codec string) (sarama.CompressionCodec, error) {
	switch codec {
	case "none":
		return sarama.CompressionNone, nil
	case "gzip":
		return sarama.CompressionGZIP, nil
	case "snappy":
		return sarama.CompressionSnappy, nil
	case "lz4":
		return sarama.CompressionLZ4, nil
	case "zstd":
		return sarama.CompressionZSTD, nil
	}
	return sarama.CompressionNone, fmt.Errorf("unknown codec %q", codec)
}

// topicErr turns CreateTopic's and DeleteTopic's errors into "CODE: message" ("" for none).
func topicErr(err error) string {
	var te *sarama.TopicError
	if errors.As(err, &te) {
		msg := ""
		if te.ErrMsg != nil {
			msg = *te.ErrMsg
		}
		return fmt.Sprintf("%s: %s", te.Err.Error(), msg)
	}
	return errString(err)
}

func (s *Sarama) CreateTopic(ctx context.Context, topic string, partitions int32, configs map[string]string) error {
	entries := map[string]*string{}
	for k, v := range configs {
		entries[k] = &v
	}
	return s.admin.CreateTopic(topic, &sarama.TopicDetail{NumPartitions: partitions, ReplicationFactor: 1,
		ConfigEntries: entries}, false)
}

func (s *Sarama) Produce(ctx context.Context, topic, codec string, recs []Rec) (int64, []Rec, error) {
	c, err := saramaCodec(codec)
	if err != nil {
		return 0, nil, err
	}
	cfg := saramaConfig()
	cfg.Producer.Idempotent = true
	cfg.Producer.RequiredAcks = sarama.WaitForAll
	cfg.Net.MaxOpenRequests = 1 // sarama's rule for an idempotent producer
	cfg.Producer.Return.Successes = true
	cfg.Producer.Compression = c
	cfg.Producer.Partitioner = sarama.NewManualPartitioner
	cfg.Producer.Flush.Messages = 100 // batches of 100 records, so each codec has something to compress
	cfg.Producer.Flush.Frequency = 5 * time.Millisecond
	p, err := sarama.NewSyncProducer(s.addrs, cfg)
	if err != nil {
		return 0, nil, err
	}
	defer p.Close()
	msgs := make([]*sarama.ProducerMessage, len(recs))
	for i, r := range recs {
		m := &sarama.ProducerMessage{Topic: topic, Partition: r.Partition, Key: sarama.ByteEncoder(r.Key),
			Value: sarama.ByteEncoder(r.Value)}
		for _, h := range r.Headers {
			m.Headers = append(m.Headers, sarama.RecordHeader{Key: h[0], Value: h[1]})
		}
		msgs[i] = m
	}
	if err := p.SendMessages(msgs); err != nil {
		return 0, nil, err
	}
	out := make([]Rec, len(recs))
	for i, m := range msgs {
		out[i] = recs[i]
		out[i].Partition, out[i].Offset = m.Partition, m.Offset
	}
	return -1, out, nil // sarama does not expose its producer id; the test reads it from the batches
}

func fromSarama(m *sarama.ConsumerMessage, member string) Rec {
	r := Rec{Partition: m.Partition, Offset: m.Offset, Key: m.Key, Value: m.Value, Member: member}
	for _, h := range m.Headers {
		r.Headers = append(r.Headers, [2][]byte{h.Key, h.Value})
	}
	return r
}

func (s *Sarama) Consume(ctx context.Context, topic string, partitions int32, n int) ([]Rec, error) {
	cfg := saramaConfig()
	cfg.Consumer.Return.Errors = true
	consumer, err := sarama.NewConsumer(s.addrs, cfg)
	if err != nil {
		return nil, err
	}
	defer consumer.Close()
	msgs := make(chan *sarama.ConsumerMessage, 256)
	errs := make(chan error, partitions)
	for p := int32(0); p < partitions; p++ {
		pc, err := consumer.ConsumePartition(topic, p, sarama.OffsetOldest)
		if err != nil {
			return nil, err
		}
		defer pc.AsyncClose()
		go func() {
			for m := range pc.Messages() {
				msgs <- m
			}
		}()
		go func() {
			for e := range pc.Errors() {
				errs <- e
			}
		}()
	}
	var out []Rec
	for len(out) < n {
		select {
		case m := <-msgs:
			out = append(out, fromSarama(m, ""))
		case err := <-errs:
			return out, err
		case <-ctx.Done():
			return out, fmt.Errorf("after %d of %d records: %w", len(out), n, ctx.Err())
		}
	}
	return out, nil
}

// saramaMember is a sarama consumer group member with the cooperative-sticky strategy: it marks each
// record after handing it on and commits when it has caught up with what was fetched (auto-commit
// off). Its assignment is the partitions whose ConsumeClaim is running (with cooperative
// rebalancing a revoked claim's Messages channel closes).
type saramaMember struct {
	name string
	cg   sarama.ConsumerGroup
	out  chan<- Rec
	done chan struct{}

	mu       sync.Mutex // guards assigned (written by the claim goroutines, read by Assigned)
	assigned map[int32]bool
}

func (s *Sarama) NewMember(ctx context.Context, name, group, topic string, out chan<- Rec) (Member, error) {
	cfg := saramaConfig()
	cfg.ClientID = "sluice-go-sarama-" + name
	cfg.Consumer.Group.Rebalance.GroupStrategies = []sarama.BalanceStrategy{sarama.NewBalanceStrategyCooperativeSticky()}
	cfg.Consumer.Offsets.Initial = sarama.OffsetOldest
	cfg.Consumer.Offsets.AutoCommit.Enable = false
	cfg.Consumer.Group.Heartbeat.Interval = 100 * time.Millisecond
	cfg.Consumer.Group.Session.Timeout = 6 * time.Second
	cfg.Consumer.Group.Rebalance.Timeout = 10 * time.Second
	cfg.Consumer.MaxWaitTime = 200 * time.Millisecond
	cg, err := sarama.NewConsumerGroup(s.addrs, group, cfg)
	if err != nil {
		return nil, err
	}
	m := &saramaMember{name: name, cg: cg, out: out, done: make(chan struct{}), assigned: map[int32]bool{}}
	go func() {
		defer close(m.done)
		for {
			err := cg.Consume(context.Background(), []string{topic}, m)
			if errors.Is(err, sarama.ErrClosedConsumerGroup) {
				return
			}
			if err != nil {
				fmt.Fprintf(os.Stderr, "member %s: %v\n", name, err)
			}
		}
	}()
	return m, nil
}

func (m *saramaMember) Setup(sarama.ConsumerGroupSession) error   { return nil }
func (m *saramaMember) Cleanup(sarama.ConsumerGroupSession) error { return nil }

func (m *saramaMember) ConsumeClaim(sess sarama.ConsumerGroupSession, claim sarama.ConsumerGroupClaim) error {
	p := claim.Partition()
	m.mu.Lock()
	m.assigned[p] = true
	m.mu.Unlock()
	defer func() {
		m.mu.Lock()
		delete(m.assigned, p)
		m.mu.Unlock()
	}()
	for msg := range claim.Messages() {
		m.out <- fromSarama(msg, m.name)
		sess.MarkMessage(msg, "")
		if len(claim.Messages()) == 0 { // commit when caught up with what was fetched
			sess.Commit()
		}
	}
	return nil
}

func (m *saramaMember) Assigned() []int32 {
	m.mu.Lock()
	defer m.mu.Unlock()
	var ps []int32
	for p := range m.assigned {
		ps = append(ps, p)
	}
	return sorted(ps)
}

func (m *saramaMember) Close() error {
	err := m.cg.Close() // leaves the group
	<-m.done
	return err
}

func (s *Sarama) Committed(ctx context.Context, group, topic string, partitions int32) (map[int32]int64, error) {
	ps := make([]int32, partitions)
	for p := range ps {
		ps[p] = int32(p)
	}
	resp, err := s.admin.ListConsumerGroupOffsets(group, map[string][]int32{topic: ps})
	if err != nil {
		return nil, err
	}
	if resp.Err != sarama.ErrNoError {
		return nil, resp.Err
	}
	out := map[int32]int64{}
	for _, p := range ps {
		out[p] = -1
		if b := resp.GetBlock(topic, p); b != nil {
			if b.Err != sarama.ErrNoError {
				return nil, b.Err
			}
			out[p] = b.Offset
		}
	}
	return out, nil
}

func (s *Sarama) EndOffsets(ctx context.Context, topic string, partitions int32) (map[int32]int64, error) {
	out := map[int32]int64{}
	for p := int32(0); p < partitions; p++ {
		o, err := s.client.GetOffset(topic, p, sarama.OffsetNewest)
		if err != nil {
			return nil, err
		}
		out[p] = o
	}
	return out, nil
}

func (s *Sarama) GroupState(ctx context.Context, group string) (string, error) {
	gs, err := s.admin.DescribeConsumerGroups([]string{group})
	if err != nil {
		return "", err
	}
	if len(gs) != 1 {
		return "", fmt.Errorf("%d groups described", len(gs))
	}
	if gs[0].Err != sarama.ErrNoError {
		return "", gs[0].Err
	}
	return gs[0].State, nil
}

func (s *Sarama) Admin(ctx context.Context, topic string) (map[string]any, error) {
	res := map[string]any{}
	str := func(v string) *string { return &v }
	err := s.admin.CreateTopic(topic, &sarama.TopicDetail{NumPartitions: 3, ReplicationFactor: 1,
		ConfigEntries: map[string]*string{
			"retention.ms":      str("3600000"),
			"max.message.bytes": str("2097152"),
			"cleanup.policy":    str("delete"),
		}}, false)
	res["create_error"] = topicErr(err)
	err = s.admin.CreateTopic(topic+"-bad", &sarama.TopicDetail{NumPartitions: 1, ReplicationFactor: 1,
		ConfigEntries: map[string]*string{"no.such.config": str("1")}}, false)
	res["create_bad_error"] = topicErr(err)

	all, err := s.admin.ListTopics() // Metadata, then DescribeConfigs of every topic
	if err != nil {
		return nil, fmt.Errorf("list: %w", err)
	}
	names := []string{}
	for name := range all {
		names = append(names, name)
	}
	res["listed"] = names
	if d, ok := all[topic]; ok {
		listedConfigs := map[string]string{}
		for k, v := range d.ConfigEntries {
			if v != nil {
				listedConfigs[k] = *v
			}
		}
		res["listed_detail"] = map[string]any{"partitions": d.NumPartitions,
			"replication_factor": d.ReplicationFactor, "configs": listedConfigs}
	}

	mds, err := s.admin.DescribeTopics([]string{topic})
	if err != nil {
		return nil, fmt.Errorf("describe: %w", err)
	}
	if len(mds) != 1 {
		return nil, fmt.Errorf("describe: %d topics", len(mds))
	}
	res["describe_error"] = errString(kerr(mds[0].Err))
	parts := map[int32]any{}
	for _, pm := range mds[0].Partitions {
		parts[pm.ID] = map[string]any{"leader": pm.Leader, "replicas": pm.Replicas, "isr": pm.Isr,
			"error": errString(kerr(pm.Err))}
	}
	res["describe_partitions"] = parts

	entries, err := s.admin.DescribeConfig(sarama.ConfigResource{Type: sarama.TopicResource, Name: topic})
	res["configs_error"] = errString(err)
	configs := map[string]any{}
	for _, e := range entries {
		configs[e.Name] = map[string]any{"value": e.Value, "source": int(e.Source)}
	}
	res["configs"] = configs

	res["delete_error"] = topicErr(s.admin.DeleteTopic(topic))
	after, err := s.admin.ListTopics()
	if err != nil {
		return nil, fmt.Errorf("list after delete: %w", err)
	}
	names = []string{}
	for name := range after {
		names = append(names, name)
	}
	res["listed_after_delete"] = names
	return res, nil
}

func kerr(k sarama.KError) error {
	if k == sarama.ErrNoError {
		return nil
	}
	return k
}
