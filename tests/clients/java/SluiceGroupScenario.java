// A Java test driver (Apache kafka-clients 4.4) for scenarios that need members coming and going in
// one consumer group: one JVM holds any number of group members (each a KafkaConsumer on its own
// thread, classic protocol, cooperative-sticky assignor), an idempotent producer and an
// AdminClient, and obeys commands read from stdin, one per line. Compiled with javac at test time
// (tests/clients/java_client.py); driven by tests/clients/test_java_groups.py.
//
//   java SluiceGroupScenario BOOTSTRAP [key=value ...]     (client settings for every client)
//
// Commands, and the JSON lines they print on stdout (each line one object with "ev"):
//   create TOPIC PARTITIONS [key=value ...]
//       AdminClient.createTopics (CreateTopics at the newest version both sides have):
//       {"ev":"created","topic":T,"partitions":N,"replication_factor":R,"topic_id":"..",
//        "configs":{"name":[value,source,read_only,sensitive],...}} or {"ev":"error",...}
//   join MEMBER GROUP TOPIC
//       starts a member; it prints {"ev":"assigned"|"revoked"|"lost","member":M,
//       "partitions":[..],"generation":G} from its rebalance listener, and after each poll that
//       returned records, after commitSync, {"ev":"records","member":M,"committed":B,
//       "records":[[partition,offset],...]} (B false when a rebalance refused the commit)
//   leave MEMBER
//       closes the member (LeaveGroup) and prints {"ev":"closed","member":M}
//   produce TOPIC FROM COUNT PARTITIONS
//       records FROM..FROM+COUNT-1, record i to partition i % PARTITIONS (key k-i, value v-i),
//       then {"ev":"produced","count":COUNT}
//   offsets GROUP TOPIC
//       {"ev":"offsets","committed":{"p":o,...},"end":{"p":o,...},"state":S,"members":N}
//   quit
//       closes every member and exits 0
// A failure prints {"ev":"error","command":..,"error":CLASS,"message":..} and the driver goes on.
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicBoolean;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.Config;
import org.apache.kafka.clients.admin.ConfigEntry;
import org.apache.kafka.clients.admin.ConsumerGroupDescription;
import org.apache.kafka.clients.admin.CreateTopicsResult;
import org.apache.kafka.clients.admin.ListOffsetsResult;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.clients.consumer.CommitFailedException;
import org.apache.kafka.clients.consumer.ConsumerRebalanceListener;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.CooperativeStickyAssignor;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.Uuid;
import org.apache.kafka.common.errors.RebalanceInProgressException;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;

public final class SluiceGroupScenario {
  private static final Object OUT = new Object();
  private static final Map<String, Member> MEMBERS = new ConcurrentHashMap<>();
  private static Properties base;
  private static Admin admin;
  private static KafkaProducer<String, String> producer;

  private SluiceGroupScenario() {}

  public static void main(String[] args) throws Exception {
    if (args.length < 1) {
      System.err.println("usage: SluiceGroupScenario BOOTSTRAP [key=value ...]");
      System.exit(2);
    }
    base = new Properties();
    base.put("bootstrap.servers", args[0]);
    for (int i = 1; i < args.length; i++) {
      String[] kv = args[i].split("=", 2);
      base.put(kv[0], kv[1]);
    }
    print("{\"ev\":\"ready\"}");
    BufferedReader in =
        new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
    String line;
    while ((line = in.readLine()) != null) {
      line = line.trim();
      if (line.isEmpty()) {
        continue;
      }
      String[] w = line.split(" ");
      try {
        if (w[0].equals("quit")) {
          break;
        }
        run(w);
      } catch (Throwable t) {
        print("{\"ev\":\"error\",\"command\":" + quote(line) + ",\"error\":"
            + quote(t.getClass().getName()) + ",\"message\":" + quote(String.valueOf(t.getMessage()))
            + "}");
      }
    }
    for (Member m : MEMBERS.values()) {
      m.close();
    }
    if (producer != null) {
      producer.close();
    }
    if (admin != null) {
      admin.close();
    }
    print("{\"ev\":\"bye\"}");
    System.exit(0);
  }

  private static void run(String[] w) throws Exception {
    switch (w[0]) {
      case "create":
        create(w[1], Integer.parseInt(w[2]), Arrays.copyOfRange(w, 3, w.length));
        break;
      case "join":
        Member m = new Member(w[1], w[2], w[3]);
        MEMBERS.put(w[1], m);
        m.thread.start();
        break;
      case "leave":
        Member gone = MEMBERS.remove(w[1]);
        if (gone == null) {
          throw new IllegalArgumentException("no member " + w[1]);
        }
        gone.close();
        print("{\"ev\":\"closed\",\"member\":" + quote(w[1]) + "}");
        break;
      case "produce":
        produce(w[1], Integer.parseInt(w[2]), Integer.parseInt(w[3]), Integer.parseInt(w[4]));
        break;
      case "offsets":
        offsets(w[1], w[2]);
        break;
      default:
        throw new IllegalArgumentException("unknown command " + w[0]);
    }
  }

  private static Admin admin() {
    if (admin == null) {
      Properties p = new Properties();
      p.putAll(base);
      p.putIfAbsent("default.api.timeout.ms", "30000");
      p.putIfAbsent("request.timeout.ms", "15000");
      admin = Admin.create(p);
    }
    return admin;
  }

  private static void create(String topic, int partitions, String[] configs) throws Exception {
    Map<String, String> cfg = new HashMap<>();
    for (String kv : configs) {
      String[] parts = kv.split("=", 2);
      cfg.put(parts[0], parts[1]);
    }
    NewTopic t = new NewTopic(topic, partitions, (short) 1).configs(cfg);
    CreateTopicsResult r = admin().createTopics(Collections.singleton(t));
    r.all().get();
    Uuid id = r.topicId(topic).get();
    Config described = r.config(topic).get();
    StringBuilder b = new StringBuilder();
    List<ConfigEntry> entries = new ArrayList<>(described.entries());
    entries.sort((x, y) -> x.name().compareTo(y.name()));
    for (ConfigEntry e : entries) {
      if (b.length() > 0) {
        b.append(',');
      }
      b.append(quote(e.name())).append(":[")
          .append(e.value() == null ? "null" : quote(e.value())).append(',')
          .append(quote(e.source().name())).append(',').append(e.isReadOnly()).append(',')
          .append(e.isSensitive()).append(']');
    }
    print("{\"ev\":\"created\",\"topic\":" + quote(topic) + ",\"partitions\":"
        + r.numPartitions(topic).get() + ",\"replication_factor\":"
        + r.replicationFactor(topic).get() + ",\"topic_id\":" + quote(id.toString())
        + ",\"topic_id_zero\":" + id.equals(Uuid.ZERO_UUID) + ",\"configs\":{" + b + "}}");
  }

  private static void produce(String topic, int from, int count, int partitions)
      throws Exception {
    if (producer == null) {
      Properties p = new Properties();
      p.putAll(base);
      p.put("enable.idempotence", "true");
      p.put("acks", "all");
      p.put("linger.ms", "5");
      p.put("key.serializer", StringSerializer.class.getName());
      p.put("value.serializer", StringSerializer.class.getName());
      p.putIfAbsent("max.block.ms", "20000");
      p.putIfAbsent("delivery.timeout.ms", "30000");
      p.putIfAbsent("request.timeout.ms", "15000");
      producer = new KafkaProducer<>(p);
    }
    List<Future<RecordMetadata>> sent = new ArrayList<>();
    for (int i = from; i < from + count; i++) {
      sent.add(producer.send(new ProducerRecord<>(topic, i % partitions, "k-" + i, "v-" + i)));
    }
    producer.flush();
    for (Future<RecordMetadata> f : sent) {
      f.get();
    }
    print("{\"ev\":\"produced\",\"count\":" + count + "}");
  }

  private static void offsets(String group, String topic) throws Exception {
    Map<TopicPartition, OffsetAndMetadata> committed =
        admin().listConsumerGroupOffsets(group).partitionsToOffsetAndMetadata().get();
    Map<TopicPartition, OffsetSpec> latest = new HashMap<>();
    int partitions = admin().describeTopics(Collections.singleton(topic)).allTopicNames().get()
        .get(topic).partitions().size();
    for (int p = 0; p < partitions; p++) {
      latest.put(new TopicPartition(topic, p), OffsetSpec.latest());
    }
    Map<TopicPartition, ListOffsetsResult.ListOffsetsResultInfo> ends =
        admin().listOffsets(latest).all().get();
    ConsumerGroupDescription d =
        admin().describeConsumerGroups(Collections.singleton(group)).all().get().get(group);
    Map<Integer, Long> c = new TreeMap<>();
    for (Map.Entry<TopicPartition, OffsetAndMetadata> e : committed.entrySet()) {
      if (e.getKey().topic().equals(topic) && e.getValue() != null) {
        c.put(e.getKey().partition(), e.getValue().offset());
      }
    }
    Map<Integer, Long> end = new TreeMap<>();
    for (Map.Entry<TopicPartition, ListOffsetsResult.ListOffsetsResultInfo> e : ends.entrySet()) {
      end.put(e.getKey().partition(), e.getValue().offset());
    }
    print("{\"ev\":\"offsets\",\"committed\":" + json(c) + ",\"end\":" + json(end)
        + ",\"state\":" + quote(d.groupState().toString()) + ",\"members\":" + d.members().size()
        + "}");
  }

  // One group member: a KafkaConsumer polled by its own thread until close().
  private static final class Member implements ConsumerRebalanceListener {
    final String name;
    final KafkaConsumer<String, String> consumer;
    final Thread thread;
    final AtomicBoolean closing = new AtomicBoolean();
    final String topic;

    Member(String name, String group, String topic) {
      this.name = name;
      this.topic = topic;
      Properties p = new Properties();
      p.putAll(base);
      p.put("group.id", group);
      p.put("group.protocol", "classic");
      p.put("partition.assignment.strategy", CooperativeStickyAssignor.class.getName());
      p.put("client.id", name);
      p.put("enable.auto.commit", "false");
      p.put("auto.offset.reset", "earliest");
      p.put("key.deserializer", StringDeserializer.class.getName());
      p.put("value.deserializer", StringDeserializer.class.getName());
      p.putIfAbsent("default.api.timeout.ms", "30000");
      p.putIfAbsent("request.timeout.ms", "15000");
      consumer = new KafkaConsumer<>(p);
      thread = new Thread(this::loop, "member-" + name);
    }

    void loop() {
      try {
        consumer.subscribe(Collections.singletonList(topic), this);
        while (!closing.get()) {
          ConsumerRecords<String, String> records = consumer.poll(Duration.ofMillis(100));
          if (records.isEmpty()) {
            continue;
          }
          StringBuilder b = new StringBuilder();
          for (ConsumerRecord<String, String> r : records) {
            if (!("v-" + r.key().substring(2)).equals(r.value())) {
              throw new IllegalStateException("record " + r.partition() + "/" + r.offset()
                  + " is " + r.key() + "=" + r.value());
            }
            if (b.length() > 0) {
              b.append(',');
            }
            b.append('[').append(r.partition()).append(',').append(r.offset()).append(']');
          }
          boolean committed = true;
          try {
            consumer.commitSync();
          } catch (RebalanceInProgressException | CommitFailedException e) {
            // A rebalance began: the records were consumed; their offsets are committed by the
            // revocation (or, for partitions kept, by the next commit).
            committed = false;
          }
          print("{\"ev\":\"records\",\"member\":" + quote(name) + ",\"committed\":" + committed
              + ",\"records\":[" + b + "]}");
        }
      } catch (Throwable t) {
        print("{\"ev\":\"error\",\"member\":" + quote(name) + ",\"error\":"
            + quote(t.getClass().getName()) + ",\"message\":" + quote(String.valueOf(t.getMessage()))
            + "}");
      } finally {
        // Closing here, on the consumer's own thread: LeaveGroup, after the listener's
        // onPartitionsRevoked for what it owns.
        consumer.close();
      }
    }

    // The poll loop sees `closing` within its 100 ms poll (no wakeup(): a pending wakeup would
    // throw out of the commit in onPartitionsRevoked that close() runs).
    void close() throws InterruptedException {
      closing.set(true);
      thread.join();
    }

    private void event(String kind, Collection<TopicPartition> partitions) {
      List<Integer> ps = new ArrayList<>();
      for (TopicPartition tp : partitions) {
        ps.add(tp.partition());
      }
      Collections.sort(ps);
      print("{\"ev\":" + quote(kind) + ",\"member\":" + quote(name) + ",\"partitions\":" + ps
          + ",\"generation\":" + consumer.groupMetadata().generationId() + "}");
    }

    @Override
    public void onPartitionsRevoked(Collection<TopicPartition> partitions) {
      // Commit what was consumed before the partitions go (cooperative: only these move).
      if (!partitions.isEmpty()) {
        try {
          consumer.commitSync();
        } catch (RebalanceInProgressException | CommitFailedException e) {
          // Another member may read these records again: at least once.
        }
      }
      event("revoked", partitions);
    }

    @Override
    public void onPartitionsAssigned(Collection<TopicPartition> partitions) {
      event("assigned", partitions);
    }

    @Override
    public void onPartitionsLost(Collection<TopicPartition> partitions) {
      event("lost", partitions);
    }
  }

  private static String json(Map<Integer, Long> m) {
    StringBuilder b = new StringBuilder("{");
    for (Map.Entry<Integer, Long> e : m.entrySet()) {
      if (b.length() > 1) {
        b.append(',');
      }
      b.append('"').append(e.getKey()).append("\":").append(e.getValue());
    }
    return b.append('}').toString();
  }

  private static void print(String line) {
    synchronized (OUT) {
      System.out.println(line);
      System.out.flush();
    }
  }

  private static String quote(String s) {
    StringBuilder b = new StringBuilder("\"");
    for (char ch : s.toCharArray()) {
      if (ch == '"' || ch == '\\') {
        b.append('\\').append(ch);
      } else if (ch < 0x20) {
        b.append(String.format("\\u%04x", (int) ch));
      } else {
        b.append(ch);
      }
    }
    return b.append('"').toString();
  }
}
