// A small Java test client (Apache kafka-clients): produces N records with the idempotent producer
// into partition 0, then consumes them back in a consumer group (classic protocol) and commits, with
// the connection and security settings (security.protocol, ssl.*, sasl.*) from a properties file. Compiled with javac
// against the cached kafka-clients jars at test time (tests/clients/java_client.py); no build tool.
//
//   java SluiceJavaClient PROPERTIES TOPIC N GROUP [produce|consume|both]
//
// Prints one JSON object per line on stdout:
//   {"produced":N,"first_offset":F,"last_offset":L}
//   {"consumed":N,"first_offset":F,"last_offset":L,"committed":C}
// and exits 0; on a failure prints {"error":"CLASS","message":"...","causes":["CLASS: message",...]}
// (the exception and its causes, outermost first) and exits 1.
import java.io.FileInputStream;
import java.io.InputStream;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.Future;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;

public final class SluiceJavaClient {
  private SluiceJavaClient() {}

  public static void main(String[] args) {
    if (args.length < 4) {
      System.err.println("usage: SluiceJavaClient PROPERTIES TOPIC N GROUP [produce|consume|both]");
      System.exit(2);
    }
    String mode = args.length > 4 ? args[4] : "both";
    try {
      Properties base = new Properties();
      try (InputStream in = new FileInputStream(args[0])) {
        base.load(in);
      }
      String topic = args[1];
      int n = Integer.parseInt(args[2]);
      String group = args[3];
      if (!mode.equals("consume")) {
        produce(base, topic, n);
      }
      if (!mode.equals("produce")) {
        consume(base, topic, n, group);
      }
      System.exit(0);
    } catch (Throwable t) {
      System.out.println(errorJson(t));
      System.exit(1);
    }
  }

  private static void produce(Properties base, String topic, int n) throws Exception {
    Properties p = new Properties();
    p.putAll(base);
    p.put("enable.idempotence", "true");
    p.put("acks", "all");
    p.put("key.serializer", StringSerializer.class.getName());
    p.put("value.serializer", StringSerializer.class.getName());
    p.putIfAbsent("max.block.ms", "20000");
    p.putIfAbsent("delivery.timeout.ms", "30000");
    p.putIfAbsent("request.timeout.ms", "15000");
    p.putIfAbsent("linger.ms", "5");
    List<Future<RecordMetadata>> sent = new ArrayList<>();
    try (KafkaProducer<String, String> producer = new KafkaProducer<>(p)) {
      for (int i = 0; i < n; i++) {
        sent.add(producer.send(new ProducerRecord<>(topic, 0, "k-" + i, "v-" + i)));
      }
      producer.flush();
      long first = -1;
      long last = -1;
      for (Future<RecordMetadata> f : sent) {
        long offset = f.get().offset();
        if (first < 0) {
          first = offset;
        }
        if (offset != last + 1 && last >= 0) {
          throw new IllegalStateException("offsets not consecutive: " + last + " then " + offset);
        }
        last = offset;
      }
      System.out.println("{\"produced\":" + sent.size() + ",\"first_offset\":" + first
          + ",\"last_offset\":" + last + "}");
    }
  }

  private static void consume(Properties base, String topic, int n, String group) {
    Properties p = new Properties();
    p.putAll(base);
    p.put("group.id", group);
    p.put("group.protocol", "classic");
    p.put("enable.auto.commit", "false");
    p.put("auto.offset.reset", "earliest");
    p.put("key.deserializer", StringDeserializer.class.getName());
    p.put("value.deserializer", StringDeserializer.class.getName());
    p.putIfAbsent("default.api.timeout.ms", "20000");
    p.putIfAbsent("request.timeout.ms", "15000");
    long deadline = System.currentTimeMillis() + Long.parseLong(
        base.getProperty("test.consume.timeout.ms", "60000"));
    p.remove("test.consume.timeout.ms");
    try (KafkaConsumer<String, String> consumer = new KafkaConsumer<>(p)) {
      consumer.subscribe(Collections.singletonList(topic));
      int count = 0;
      long first = -1;
      long last = -1;
      while (count < n) {
        if (System.currentTimeMillis() > deadline) {
          throw new IllegalStateException("consumed " + count + " of " + n + " records in time");
        }
        for (ConsumerRecord<String, String> r : consumer.poll(Duration.ofMillis(500))) {
          // Partition 0 holds the records of this run: keys k-0 .. k-(n-1), in order, each value
          // matching its key. Other partitions' records, and any after the n-th, are not counted.
          if (r.partition() != 0 || count == n) {
            continue;
          }
          String expected = "k-" + count;
          if (!expected.equals(r.key()) || !("v-" + count).equals(r.value())) {
            throw new IllegalStateException("record " + r.offset() + " is " + r.key() + "="
                + r.value() + ", expected " + expected);
          }
          if (first < 0) {
            first = r.offset();
          }
          last = r.offset();
          count++;
        }
      }
      TopicPartition tp = new TopicPartition(topic, 0);
      consumer.commitSync(Collections.singletonMap(tp, new OffsetAndMetadata(last + 1)));
      Map<TopicPartition, OffsetAndMetadata> committed =
          consumer.committed(Collections.singleton(tp));
      OffsetAndMetadata c = committed.get(tp);
      System.out.println("{\"consumed\":" + count + ",\"first_offset\":" + first
          + ",\"last_offset\":" + last + ",\"committed\":" + (c == null ? -1 : c.offset()) + "}");
    }
  }

  private static String errorJson(Throwable t) {
    StringBuilder causes = new StringBuilder();
    for (Throwable c = t; c != null; c = c.getCause()) {
      if (causes.length() > 0) {
        causes.append(',');
      }
      causes.append(quote(c.getClass().getName() + ": " + c.getMessage()));
      if (c.getCause() == c) {
        break;
      }
    }
    return "{\"error\":" + quote(t.getClass().getName()) + ",\"message\":"
        + quote(String.valueOf(t.getMessage())) + ",\"causes\":[" + causes + "]}";
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
