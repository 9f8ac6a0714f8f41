// The CLI as people coming from rpk, kcat and Kafka's tools use it, through the real `sluice`
// binary: profiles and SLUICE_BROKER, relative times, consume --last and --reset, group
// describe --members/--state, Kafka-style reset-offsets (against a real `sluice serve` with a real
// kcat consumer in the group), typo suggestions and a strict serve config.

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <thread>

#include "tests/support/sluice_process.h"
#include "tests/support/test_util.h"

extern char** environ;

namespace sluice::cli {
namespace {

using nlohmann::json;
using testing::Lines;
using testing::RunResult;
using testing::RunSluice;
using testing::TempDir;
using Child = testing::SluiceProcess;

// Sets an environment variable for the test's lifetime (children inherit it).
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const std::optional<std::string>& value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    if (value) {
      ::setenv(name, value->c_str(), 1);
    } else {
      ::unsetenv(name);
    }
  }
  ~ScopedEnv() {
    if (old_) {
      ::setenv(name_, old_->c_str(), 1);
    } else {
      ::unsetenv(name_);
    }
  }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

 private:
  const char* name_;
  std::optional<std::string> old_;
};

class CliUxTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { ::signal(SIGPIPE, SIG_IGN); }

  // Each test has its own config home and no target in the environment.
  CliUxTest()
      : xdg_("XDG_CONFIG_HOME", config_.path()),
        no_dir_("SLUICE_DATA_DIR", std::nullopt),
        no_broker_("SLUICE_BROKER", std::nullopt),
        no_profile_("SLUICE_PROFILE", std::nullopt) {}

  RunResult Run(const std::vector<std::string>& args, const std::string& input = "") {
    return RunSluice(args, input, std::chrono::seconds(60));
  }
  RunResult Ok(const std::vector<std::string>& args, const std::string& input = "") {
    RunResult r = Run(args, input);
    std::string shown;
    for (const auto& a : args) shown += a + " ";
    EXPECT_EQ(r.exit_code, 0) << shown << "\nstderr: " << r.err;
    return r;
  }
  // Runs on this test's data directory.
  RunResult Local(std::vector<std::string> args, const std::string& input = "") {
    args.insert(args.begin(), {"--data-dir", dir_.path()});
    return Ok(args, input);
  }
  static void ExpectOneLineError(const RunResult& r, int code, const std::string& what) {
    EXPECT_EQ(r.exit_code, code) << what << "\nstderr: " << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << what << "\nstderr: " << r.err;
    EXPECT_EQ(r.err.rfind("sluice: ", 0), 0u) << what << "\nstderr: " << r.err;
  }
  static std::string Topics(const RunResult& r) {
    std::string names;
    for (const auto& t : json::parse(r.out)) names += t["topic"].get<std::string>() + " ";
    return names;
  }

  TempDir config_;
  TempDir dir_;
  ScopedEnv xdg_, no_dir_, no_broker_, no_profile_;
};

TEST_F(CliUxTest, ProfilesChooseTheDataDirectoryBelowFlagsAndEnvironment) {
  TempDir other;
  Local({"topic", "create", "in-profile"});
  Ok({"--data-dir", other.path(), "topic", "create", "in-other"});

  EXPECT_EQ(
      Ok({"profile", "create", "local", "--data-dir", dir_.path()}).out,
      "created profile local and switched to it (" + config_.path() + "/sluice/profiles.json)\n");
  EXPECT_EQ(Ok({"profile", "current"}).out, "local\n");
  // The profile in use decides where `topic list` looks...
  EXPECT_EQ(Topics(Ok({"topic", "list", "-o", "json"})), "in-profile ");
  // ...below the environment...
  {
    ScopedEnv env("SLUICE_DATA_DIR", other.path());
    EXPECT_EQ(Topics(Ok({"topic", "list", "-o", "json"})), "in-other ");
    // ...which is below the flag.
    EXPECT_EQ(Topics(Ok({"--data-dir", dir_.path(), "topic", "list", "-o", "json"})),
              "in-profile ");
  }
  // --profile and SLUICE_PROFILE pick another profile than the one in use.
  Ok({"profile", "create", "other", "--data-dir", other.path()});
  Ok({"profile", "use", "local"});
  EXPECT_EQ(Topics(Ok({"--profile", "other", "topic", "list", "-o", "json"})), "in-other ");
  {
    ScopedEnv env("SLUICE_PROFILE", std::string("other"));
    EXPECT_EQ(Topics(Ok({"topic", "list", "-o", "json"})), "in-other ");
    EXPECT_EQ(Topics(Ok({"--profile", "local", "topic", "list", "-o", "json"})), "in-profile ");
  }
  const size_t w =
      std::max({std::string("DATA-DIR").size(), dir_.path().size(), other.path().size()});
  auto pad = [w](std::string s) { return s.append(w - s.size(), ' '); };
  EXPECT_EQ(Ok({"profile", "list"}).out, "NAME    BROKER  " + pad("DATA-DIR") + "  CLIENT\n" +
                                             "local*  -       " + pad(dir_.path()) + "  -\n" +
                                             "other   -       " + pad(other.path()) + "  -\n");
  json listed = json::parse(Ok({"profile", "list", "-o", "json"}).out);
  ASSERT_EQ(listed.size(), 2u);
  EXPECT_EQ(listed[0]["current"], true);
  EXPECT_EQ(listed[1]["data_dir"], other.path());

  ExpectOneLineError(Run({"--profile", "nope", "topic", "list"}), 2, "unknown profile");
  ExpectOneLineError(Run({"profile", "use", "nope"}), 1, "use unknown");
  ExpectOneLineError(Run({"profile", "create", "local", "--data-dir", "x"}), 1, "exists");
  ExpectOneLineError(Run({"profile", "create", "bad name", "--data-dir", "x"}), 2, "bad name");
  ExpectOneLineError(Run({"profile", "create", "empty"}), 2, "no target");

  EXPECT_EQ(Ok({"profile", "delete", "local"}).out,
            "deleted profile local (it was in use: now none is)\n");
  ExpectOneLineError(Run({"profile", "current"}), 1, "none in use");
  // With no profile in use the default ./sluice-data applies again (it does not exist here).
  RunResult none = Run({"topic", "list"});
  ExpectOneLineError(none, 1, "default data dir");
  EXPECT_NE(none.err.find("./sluice-data"), std::string::npos) << none.err;

  // A damaged profiles file is named, not ignored; profile commands still report it.
  std::ofstream(config_.Join("sluice/profiles.json")) << "{\"current\": 3}";
  RunResult broken = Run({"topic", "list"});
  ExpectOneLineError(broken, 2, "damaged file");
  EXPECT_NE(broken.err.find("profiles.json"), std::string::npos) << broken.err;
  ExpectOneLineError(Run({"profile", "list"}), 1, "damaged file, profile list");
}

// Client properties for a secured broker (-X, --client-config, a profile's "client"): malformed
// ones are usage errors naming the file and line, and values (passwords) are never printed.
// The secured connections themselves are tested against a real SASL/TLS broker
// (tests/clients/test_sasl.py, test_tls.py).
TEST_F(CliUxTest, ClientPropertiesAreCheckedStoredInProfilesAndNeverPrinted) {
  ExpectOneLineError(Run({"--broker", "127.0.0.1:1", "-X", "novalue", "topic", "list"}), 2,
                     "-X without =");
  const std::string props = config_.Join("client.properties");
  std::ofstream(props) << "# a comment\n\nsecurity.protocol = SASL_SSL\nsasl.password=s3cret\n"
                       << "no equals sign here\n";
  RunResult bad = Run({"--broker", "127.0.0.1:1", "--client-config", props, "topic", "list"});
  ExpectOneLineError(bad, 2, "bad properties file");
  EXPECT_NE(bad.err.find("line 5"), std::string::npos) << bad.err;
  ExpectOneLineError(Run({"--client-config", config_.Join("nope"), "topic", "list"}), 2,
                     "missing properties file");
  ExpectOneLineError(Run({"profile", "create", "d", "--data-dir", dir_.path(), "-X", "a=b"}), 2,
                     "client properties without a broker");

  std::ofstream(props) << "security.protocol = SASL_SSL\nsasl.password=s3cret\n";
  Ok({"profile", "create", "secure", "--broker", "127.0.0.1:9093", "--client-config", props, "-X",
      "sasl.username=alice"});
  std::ifstream saved(config_.Join("sluice/profiles.json"));
  const json file = json::parse(saved);
  EXPECT_EQ(file["profiles"]["secure"]["client"], json({{"security.protocol", "SASL_SSL"},
                                                        {"sasl.password", "s3cret"},
                                                        {"sasl.username", "alice"}}));
  const std::string listed = Ok({"profile", "list"}).out;
  EXPECT_NE(listed.find("sasl.password,sasl.username,security.protocol"), std::string::npos)
      << listed;
  EXPECT_EQ(listed.find("s3cret"), std::string::npos) << listed;
  // A property librdkafka refuses is named without its value.
  RunResult refused =
      Run({"-X", "sasl.password=s3cret", "-X", "no.such.property=s3cret", "topic", "list"});
  ExpectOneLineError(refused, 2, "unknown librdkafka property");
  EXPECT_NE(refused.err.find("no.such.property"), std::string::npos) << refused.err;
  EXPECT_EQ(refused.err.find("s3cret"), std::string::npos) << refused.err;
}

TEST_F(CliUxTest, EnvironmentBrokerBeatsTheProfileAndIsNamedInErrors) {
  Ok({"profile", "create", "p", "--data-dir", dir_.path()});
  ScopedEnv env("SLUICE_BROKER", std::string("not-an-address"));
  RunResult r = Run({"topic", "list"});
  ExpectOneLineError(r, 2, "bad SLUICE_BROKER");
  EXPECT_NE(r.err.find("SLUICE_BROKER: 'not-an-address' is not HOST:PORT"), std::string::npos)
      << r.err;
  {
    ScopedEnv both("SLUICE_DATA_DIR", dir_.path());
    ExpectOneLineError(Run({"topic", "list"}), 2, "both set");
  }
  // The flag beats the environment.
  Ok({"--data-dir", dir_.path(), "topic", "list"});
}

TEST_F(CliUxTest, RelativeTimesSelectRecordsByAge) {
  Local({"topic", "create", "t"});
  const auto now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  // Records 3 h, 2 h, 30 min and 1 min old.
  std::string input;
  for (int64_t age_min : {180, 120, 30, 1}) {
    input +=
        json({{"value", "age" + std::to_string(age_min)}, {"timestamp", now_ms - age_min * 60'000}})
            .dump() +
        "\n";
  }
  Local({"produce", "t", "--format", "json"}, input);
  EXPECT_EQ(Local({"consume", "t", "--from-time", "-1h"}).out, "age30\nage1\n");
  EXPECT_EQ(Local({"consume", "t", "--from-time=-150m"}).out, "age120\nage30\nage1\n");
  EXPECT_EQ(Local({"consume", "t", "--from-time", "now-5m"}).out, "age1\n");
  EXPECT_EQ(Local({"consume", "t", "--from-time", "-1d"}).out, "age180\nage120\nage30\nage1\n");
  EXPECT_EQ(Local({"consume", "t", "--from-time", "now"}).out, "");
  EXPECT_EQ(Local({"replay", "t", "--from", "-2h30m", "--to", "-15m"}).out, "age120\nage30\n");

  // reset-offsets takes the same forms, and --by-duration.
  Local({"consume", "t", "--group", "g", "--from-beginning"});
  json plan = json::parse(
      Local({"group", "reset-offsets", "g", "--topic", "t", "--to-datetime", "-1h", "-o", "json"})
          .out);
  EXPECT_EQ(plan["plan"][0]["current"], 4);
  EXPECT_EQ(plan["plan"][0]["target"], 2);
  plan = json::parse(Local({"group", "reset-offsets", "g", "--topic", "t", "--by-duration",
                            "PT150M", "-o", "json"})
                         .out);
  EXPECT_EQ(plan["plan"][0]["target"], 1);

  RunResult bad = Run({"--data-dir", dir_.path(), "consume", "t", "--from-time", "-1y"});
  ExpectOneLineError(bad, 2, "bad relative time");
  EXPECT_NE(bad.err.find("-15m"), std::string::npos) << bad.err;
  ExpectOneLineError(Run({"--data-dir", dir_.path(), "replay", "t", "--from", "yesterday"}), 2,
                     "bad replay time");
  ExpectOneLineError(Run({"--data-dir", dir_.path(), "group", "reset-offsets", "g", "--topic", "t",
                          "--by-duration", "soon"}),
                     2, "bad duration");
}

TEST_F(CliUxTest, ConsumeLastAndNewGroupsStartWhereTheySay) {
  Local({"topic", "create", "t", "--partitions", "2"});
  Local({"produce", "t", "--partition", "0"}, "a0\na1\na2\na3\na4\n");
  Local({"produce", "t", "--partition", "1"}, "b0\n");
  EXPECT_EQ(Local({"consume", "t", "--last", "2", "--partition", "0"}).out, "a3\na4\n");
  // Per partition; a partition with fewer records gives what it has.
  EXPECT_EQ(Local({"consume", "t", "--last", "2", "--format", "%p:%v\\n"}).out,
            "0:a3\n0:a4\n1:b0\n");
  EXPECT_EQ(Local({"consume", "t", "--last", "0"}).out, "");

  // A new group starts at the end by default and says so on stderr.
  RunResult latest = Local({"consume", "t", "--group", "g1"});
  EXPECT_EQ(latest.out, "");
  EXPECT_NE(latest.err.find("group g1 has no committed offset for t-0: starting at offset 5 "
                            "(latest, the default; --reset earliest reads from the start)"),
            std::string::npos)
      << latest.err;
  EXPECT_NE(latest.err.find("t-1: starting at offset 1"), std::string::npos) << latest.err;
  // It committed where it started: the next run says nothing of a new group.
  Local({"produce", "t", "--partition", "0"}, "a5\n");
  RunResult next = Local({"consume", "t", "--group", "g1"});
  EXPECT_EQ(next.out, "a5\n");
  EXPECT_EQ(next.err.find("no committed offset"), std::string::npos) << next.err;

  RunResult earliest = Local(
      {"consume", "t", "--group", "g2", "--reset", "earliest", "--partition", "0", "--count", "2"});
  EXPECT_EQ(earliest.out, "a0\na1\n");
  EXPECT_NE(earliest.err.find("starting at offset 0 (--reset earliest)"), std::string::npos)
      << earliest.err;
  ExpectOneLineError(Run({"--data-dir", dir_.path(), "consume", "t", "--reset", "earliest"}), 2,
                     "--reset without --group");
  ExpectOneLineError(
      Run({"--data-dir", dir_.path(), "consume", "t", "--group", "g", "--reset", "middle"}), 2,
      "bad --reset");
  ExpectOneLineError(
      Run({"--data-dir", dir_.path(), "consume", "t", "--last", "1", "--from-beginning"}), 2,
      "--last with --from-beginning");
}

TEST_F(CliUxTest, ResetOffsetsIsADryRunUnlessExecuted) {
  Local({"topic", "create", "t", "--partitions", "3"});
  Local({"topic", "create", "u"});
  for (int p = 0; p < 3; ++p) {
    Local({"produce", "t", "--partition", std::to_string(p)}, "1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n");
  }
  Local({"produce", "u"}, "x\ny\n");
  Local({"consume", "t", "--group", "g", "--from-beginning"});
  Local({"consume", "u", "--group", "g", "--from-beginning"});

  RunResult dry = Local({"group", "reset-offsets", "g", "--topic", "t:0,2", "--shift-by", "-3"});
  EXPECT_EQ(dry.out,
            "GROUP  TOPIC  PARTITION  CURRENT-OFFSET  NEW-OFFSET\n"
            "g      t      0          10              7\n"
            "g      t      2          10              7\n"
            "\ndry run: nothing was changed (add --execute to apply)\n");
  json described = json::parse(Local({"group", "describe", "g", "-o", "json"}).out);
  for (const auto& p : described["partitions"]) {
    EXPECT_EQ(p["lag_records"], 0) << p;
  }
  Local({"group", "reset-offsets", "g", "--topic", "t:0,2", "--shift-by", "-3", "--execute"});
  described = json::parse(Local({"group", "describe", "g", "-o", "json"}).out);
  std::map<std::string, int64_t> committed;
  for (const auto& p : described["partitions"]) {
    committed[p["topic"].get<std::string>() + "-" + std::to_string(p["partition"].get<int>())] =
        p["committed_offset"];
  }
  EXPECT_EQ(committed,
            (std::map<std::string, int64_t>{{"t-0", 7}, {"t-1", 10}, {"t-2", 7}, {"u-0", 2}}));

  // --all-topics: every topic the group has offsets for; --shift-by clamps to the log.
  json plan = json::parse(Local({"group", "reset-offsets", "g", "--all-topics", "--shift-by",
                                 "-100", "--execute", "-o", "json"})
                              .out);
  EXPECT_EQ(plan["changed"], true);
  EXPECT_EQ(plan["plan"].size(), 4u);
  for (const auto& e : plan["plan"]) EXPECT_EQ(e["target"], 0) << e;
  plan = json::parse(
      Local({"group", "reset-offsets", "g", "--topic", "u", "--to-latest", "-o", "json"}).out);
  EXPECT_EQ(plan["changed"], false);
  EXPECT_EQ(plan["plan"][0]["target"], 2);

  const std::string d = dir_.path();
  for (const std::vector<std::string>& args : std::vector<std::vector<std::string>>{
           {"group", "reset-offsets", "g", "--topic", "t"},
           {"group", "reset-offsets", "g", "--to-latest"},
           {"group", "reset-offsets", "g", "--topic", "t", "--all-topics", "--to-latest"},
           {"group", "reset-offsets", "g", "--topic", "t:x", "--to-latest"},
           {"group", "reset-offsets", "g", "--topic", "t:7", "--to-latest"},
           {"group", "reset-offsets", "g", "--topic", "t", "--to-latest", "--execute", "--dry-run"},
       }) {
    std::vector<std::string> full{"--data-dir", d};
    full.insert(full.end(), args.begin(), args.end());
    ExpectOneLineError(Run(full), 2, args.back());
  }
  // Shifting needs a committed offset to shift.
  ExpectOneLineError(
      Run({"--data-dir", d, "group", "reset-offsets", "fresh", "--topic", "t", "--shift-by", "1"}),
      1, "shift without commit");
}

TEST_F(CliUxTest, JsonOutputKeepsEveryByte) {
  Local({"topic", "create", "bin"});
  Local({"topic", "create", "copy"});
  // Text, then bytes that are not UTF-8 (a lone continuation byte, an overlong NUL, a surrogate,
  // a truncated sequence), keyed by a tab separator.
  const std::string bad_value = std::string("\x80\xc0\x80\xed\xa0\x80\xe2\x82", 8);
  const std::string input = "k1\tplain \xc3\xa9t\xc3\xa9\n\xff\xfe\t" + bad_value + "\n";
  Local({"produce", "bin", "--key-separator", "\\t"}, input);
  const std::vector<std::string> lines =
      Lines(Local({"consume", "bin", "--from-beginning", "-o", "json"}).out);
  ASSERT_EQ(lines.size(), 2u);
  json first = json::parse(lines[0]);
  EXPECT_EQ(first["key"], "k1");
  EXPECT_EQ(first["value"], "plain \xc3\xa9t\xc3\xa9");
  json second = json::parse(lines[1]);
  EXPECT_EQ(second["key"], json({{"base64", "//4="}}));
  EXPECT_EQ(second["value"], json({{"base64", "gMCA7aCA4oI="}}));
  // replay prints the same.
  EXPECT_EQ(Lines(Local({"replay", "bin", "-o", "json"}).out)[1], lines[1]);
  // produce --format json takes the marker back: the copy is byte-identical.
  Local({"produce", "copy", "--format", "json"}, lines[0] + "\n" + lines[1] + "\n");
  EXPECT_EQ(Local({"consume", "copy", "--from-beginning", "--format", "%k\t%v\n"}).out, input);
  ExpectOneLineError(Run({"--data-dir", dir_.path(), "produce", "copy", "--format", "json"},
                         "{\"value\": {\"base64\": \"!!\"}}\n"),
                     1, "bad base64");
  // dump -o json too.
  json dumped = json::parse(
      Lines(Local({"dump", dir_.path() + "/bin-0/00000000000000000000.log", "-o", "json"}).out)
          .at(0));
  EXPECT_EQ(dumped["records_detail"][1]["value"], json({{"base64", "gMCA7aCA4oI="}}))
      << dumped.dump();
}

TEST_F(CliUxTest, ReplayExecStreamFeedsOneProcessAndResumes) {
  Local({"topic", "create", "t", "--partitions", "2"});
  std::string p0, p1;
  for (int i = 0; i < 700; ++i) p0 += "zero-" + std::to_string(i) + "\n";
  for (int i = 0; i < 300; ++i) p1 += "one-" + std::to_string(i) + "\n";
  Local({"produce", "t", "--partition", "0"}, p0);
  Local({"produce", "t", "--partition", "1"}, p1);
  const std::string out = config_.Join("out");
  const std::string pids = config_.Join("pids");

  // One process for all the records: its pid is written once.
  Local({"replay", "t", "--exec-stream", "echo $$ >> '" + pids + "'; cat > '" + out + "'"});
  std::ifstream pid_file(pids);
  std::string pid_text((std::istreambuf_iterator<char>(pid_file)), {});
  EXPECT_EQ(Lines(pid_text).size(), 1u) << pid_text;
  std::ifstream out_file(out);
  std::string all((std::istreambuf_iterator<char>(out_file)), {});
  const std::vector<std::string> lines = Lines(all);
  ASSERT_EQ(lines.size(), 1000u);
  json first = json::parse(lines[0]);
  EXPECT_EQ(first["partition"], 0);
  EXPECT_EQ(first["offset"], 0);
  EXPECT_EQ(first["value"], "zero-0");
  EXPECT_EQ(json::parse(lines[999])["value"], "one-299");
  // Not a terminal: no progress bar. On a terminal (script(1) gives it one), a bar that ends full.
  std::remove(out.c_str());
  const std::string tty_cmd = "script -qec \"" + std::string(SLUICE_BINARY_DIR) +
                              "/sluice --data-dir '" + dir_.path() +
                              "' replay t --exec-stream 'cat > /dev/null'\" /dev/null";
  FILE* tty = ::popen(tty_cmd.c_str(), "r");
  ASSERT_NE(tty, nullptr);
  std::string shown;
  char buf[4096];
  for (size_t n; (n = std::fread(buf, 1, sizeof(buf), tty)) > 0;) shown.append(buf, n);
  EXPECT_EQ(::pclose(tty), 0) << shown;
  EXPECT_NE(shown.find("\r[##############################] 100%  1000/1000 records"),
            std::string::npos)
      << shown;

  // A command that reads 250 lines (sh's read takes one byte at a time) and fails: the replay
  // fails, and the group's progress is exactly what the command read.
  const std::string reader =
      "i=0; while [ $i -lt 250 ] && IFS= read -r l; do printf '%s\\n' "
      "\"$l\" >> '" +
      out + "'; i=$((i+1)); done; exit 3";
  RunResult failed =
      Run({"--data-dir", dir_.path(), "replay", "t", "--exec-stream", reader, "--group", "r"});
  EXPECT_EQ(failed.exit_code, 1) << failed.err;
  EXPECT_NE(failed.err.find("exited with status 3"), std::string::npos) << failed.err;
  json g = json::parse(Local({"group", "describe", "r", "-o", "json"}).out);
  ASSERT_EQ(g["partitions"].size(), 1u) << g;
  EXPECT_EQ(g["partitions"][0]["committed_offset"], 250);
  // A re-run resumes there: every record reaches the output exactly once.
  RunResult resumed =
      Local({"replay", "t", "--exec-stream", "cat >> '" + out + "'", "--group", "r"});
  EXPECT_NE(resumed.err.find("group r resumes t at 0:250"), std::string::npos) << resumed.err;
  std::ifstream again(out);
  std::string both((std::istreambuf_iterator<char>(again)), {});
  const std::vector<std::string> got = Lines(both);
  ASSERT_EQ(got.size(), 1000u);
  for (size_t i = 0; i < got.size(); ++i) EXPECT_EQ(got[i], lines[i]) << i;
  g = json::parse(Local({"group", "describe", "r", "-o", "json"}).out);
  EXPECT_EQ(g["partitions"][0]["committed_offset"], 700);
  EXPECT_EQ(g["partitions"][1]["committed_offset"], 300);
  // Nothing left: a third run feeds nothing.
  const std::string none = config_.Join("none");
  Local({"replay", "t", "--exec-stream", "cat > '" + none + "'", "--group", "r"});
  std::ifstream none_file(none);
  EXPECT_EQ(std::string((std::istreambuf_iterator<char>(none_file)), {}), "");

  // A command that reads a block and fails after the whole topic fit in the pipe: what counts is
  // what it had read when it exited (measured then, not before).
  Local({"topic", "create", "small"});
  std::string values;
  for (int i = 0; i < 100; ++i) values += std::to_string(i) + "\n";
  Local({"produce", "small"}, values);
  size_t complete = 0, bytes = 0;
  for (const std::string& line :
       Lines(Local({"consume", "small", "--from-beginning", "-o", "json"}).out)) {
    bytes += line.size() + 1;
    if (bytes > 2000) break;
    ++complete;
  }
  ASSERT_GT(complete, 0u);
  ASSERT_LT(complete, 100u);
  RunResult block = Run({"--data-dir", dir_.path(), "replay", "small", "--exec-stream",
                         "head -c 2000 > /dev/null; exit 4", "--group", "h"});
  EXPECT_EQ(block.exit_code, 1) << block.err;
  g = json::parse(Local({"group", "describe", "h", "-o", "json"}).out);
  EXPECT_EQ(g["partitions"][0]["committed_offset"], complete) << g;

  ExpectOneLineError(Run({"--data-dir", dir_.path(), "replay", "t", "--group", "r"}), 2,
                     "--group without --exec-stream");
  ExpectOneLineError(
      Run({"--data-dir", dir_.path(), "replay", "t", "--exec-stream", "cat", "--exec", "cat"}), 2,
      "both exec modes");
}

TEST_F(CliUxTest, CompletionsAndManPageComeFromTheFlags) {
  const std::string bash = Ok({"completion", "bash"}).out;
  EXPECT_NE(bash.find("complete -o bashdefault -o default -F _sluice sluice"), std::string::npos);
  // Subcommands and their flags, nested.
  EXPECT_NE(bash.find("'sluice group reset-offsets') words='"), std::string::npos) << bash;
  EXPECT_NE(bash.find("--by-duration"), std::string::npos);
  EXPECT_NE(bash.find("'sluice profile') words='create use list delete current"),
            std::string::npos);
  EXPECT_EQ(bash.find("help-man"), std::string::npos);  // hidden
  // bash itself accepts it and completes from it.
  const std::string script = config_.Join("c.bash");
  std::ofstream(script) << bash;
  RunResult completed;
  {
    std::vector<std::string> args{"bash", "-c",
                                  "source '" + script +
                                      "'; COMP_WORDS=(sluice group res); COMP_CWORD=2; _sluice; "
                                      "echo \"${COMPREPLY[@]}\""};
    int fds[2];
    ASSERT_EQ(::pipe(fds), 0);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, fds[1], 1);
    posix_spawn_file_actions_addclose(&actions, fds[0]);
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    pid_t pid = 0;
    ASSERT_EQ(::posix_spawnp(&pid, "bash", &actions, nullptr, argv.data(), environ), 0);
    posix_spawn_file_actions_destroy(&actions);
    ::close(fds[1]);
    char buf[4096];
    ssize_t n = 0;
    while ((n = ::read(fds[0], buf, sizeof(buf))) > 0) completed.out.append(buf, n);
    ::close(fds[0]);
    int status = 0;
    ::waitpid(pid, &status, 0);
    completed.exit_code = WEXITSTATUS(status);
  }
  EXPECT_EQ(completed.exit_code, 0);
  EXPECT_EQ(completed.out, "reset-offsets\n");

  const std::string zsh = Ok({"completion", "zsh"}).out;
  EXPECT_EQ(zsh.rfind("#compdef sluice\n", 0), 0u);
  EXPECT_NE(zsh.find("'sluice consume') words_=("), std::string::npos);
  const std::string fish = Ok({"completion", "fish"}).out;
  EXPECT_NE(fish.find("-a 'reset-offsets'"), std::string::npos) << fish;
  EXPECT_NE(fish.find("complete -c sluice -l data-dir -r"), std::string::npos) << fish;
  ExpectOneLineError(Run({"completion", "tcsh"}), 2, "unknown shell");

  const std::string man = Ok({"help-man"}).out;
  EXPECT_EQ(man.rfind(".TH SLUICE 1", 0), 0u);
  EXPECT_NE(man.find(".SS \\fBsluice group reset\\-offsets\\fR \\fIgroup\\fR"), std::string::npos)
      << man;
  EXPECT_NE(man.find("\\fB\\-\\-shift\\-by\\fR"), std::string::npos);
  EXPECT_NE(man.find("SLUICE_BROKER"), std::string::npos);
}

TEST_F(CliUxTest, MistypedCommandsSuggestTheNearest) {
  RunResult r = Run({"consme", "t"});
  ExpectOneLineError(r, 2, "consme");
  EXPECT_EQ(r.err, "sluice: unknown command 'consme' for 'sluice': did you mean 'consume'?\n");
  r = Run({"--data-dir", dir_.path(), "group", "descrbe", "g"});
  ExpectOneLineError(r, 2, "descrbe");
  EXPECT_EQ(r.err,
            "sluice: unknown command 'descrbe' for 'sluice group': did you mean 'describe'?\n");
  r = Run({"topic", "xyzzy"});
  ExpectOneLineError(r, 2, "xyzzy");
  EXPECT_NE(r.err.find("(commands: "), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("create"), std::string::npos) << r.err;
}

TEST_F(CliUxTest, ServeConfigRejectsUnknownKeys) {
  const std::string path = config_.Join("serve.toml");
  std::ofstream(path) << "[serve]\nnum-partitions = 3\nnum-partitons = 4\n";
  RunResult r =
      Run({"--data-dir", dir_.path(), "--config", path, "serve", "--listen", "127.0.0.1:0"});
  ExpectOneLineError(r, 2, "unknown key");
  EXPECT_NE(r.err.find("unknown key 'serve.num-partitons'"), std::string::npos) << r.err;
}

// A real `sluice serve` with a real consumer (kcat -G) in a group.
class CliUxServerTest : public CliUxTest {
 protected:
  void SetUp() override {
    server_ = std::make_unique<Child>(std::vector<std::string>{
        "serve", "--listen", "127.0.0.1:0", "--admin-listen", "none", "--data-dir", dir_.path(),
        "--group-initial-rebalance-delay-ms", "0"});
    server_->Pump("", [](const std::string& out) { return out.find('\n') != std::string::npos; });
    const std::string prefix = "listening on 127.0.0.1:";
    ASSERT_EQ(server_->out.rfind(prefix, 0), 0u) << server_->out << server_->err;
    broker_ =
        "127.0.0.1:" + server_->out.substr(prefix.size(), server_->out.find('\n') - prefix.size());
    drain_ = std::thread([this] { server_->Pump("", {}, std::chrono::seconds(3600)); });
  }
  void TearDown() override {
    StopKcat();
    if (server_) {
      server_->Signal(SIGTERM);
      drain_.join();
      EXPECT_EQ(server_->Wait(), 0);
    }
  }
  // Starts `kcat -G group topic`: a balanced consumer that stays in the group until stopped.
  void StartKcat(const std::string& group, const std::string& topic) {
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0);
    std::vector<std::string> args{"kcat", "-b", broker_, "-G", group, "-q", topic};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    ASSERT_EQ(::posix_spawnp(&kcat_, "kcat", &actions, nullptr, argv.data(), environ), 0)
        << "kcat must be installed (Debian's kcat)";
    posix_spawn_file_actions_destroy(&actions);
  }
  void StopKcat() {
    if (kcat_ <= 0) return;
    ::kill(kcat_, SIGTERM);
    int status = 0;
    while (::waitpid(kcat_, &status, 0) < 0 && errno == EINTR) {
    }
    kcat_ = -1;
  }
  RunResult Remote(std::vector<std::string> args) {
    args.insert(args.begin(), {"--broker", broker_});
    return Run(args);
  }

  std::unique_ptr<Child> server_;
  std::thread drain_;
  std::string broker_;
  pid_t kcat_ = -1;
};

TEST_F(CliUxServerTest, BrokerFromEnvironmentAndProfile) {
  Ok({"--broker", broker_, "topic", "create", "remote-topic"});
  {
    ScopedEnv env("SLUICE_BROKER", broker_);
    EXPECT_EQ(Topics(Ok({"topic", "list", "-o", "json"})), "remote-topic ");
  }
  Ok({"profile", "create", "server", "--broker", broker_});
  EXPECT_EQ(Topics(Ok({"topic", "list", "-o", "json"})), "remote-topic ");
  json current = json::parse(Ok({"profile", "current", "-o", "json"}).out);
  EXPECT_EQ(current["broker"], broker_);
  // -vv turns on librdkafka's debug log (no environment variable needed); -v alone does not.
  RunResult debug = Ok({"-vv", "topic", "list"});
  EXPECT_NE(debug.err.find("Enter main broker thread"), std::string::npos) << debug.err;
  EXPECT_EQ(Ok({"-v", "topic", "list"}).err.find("Enter main broker thread"), std::string::npos);
  RunResult chosen = Ok({"--client-debug", "protocol", "topic", "list"});
  // The protocol category's lines: each request sent and each response received.
  EXPECT_NE(chosen.err.find("Sent ApiVersionRequest"), std::string::npos) << chosen.err;
  EXPECT_EQ(chosen.err.find("Enter main broker thread"), std::string::npos) << chosen.err;
  // A flag beats the profile: this data directory is the server's, locked by it (writing
  // commands need the lock; topic list would read beside the server).
  RunResult locked = Run({"--data-dir", dir_.path(), "topic", "create", "x"});
  EXPECT_EQ(locked.exit_code, 1) << locked.err;
  EXPECT_NE(locked.err.find("locked by another process"), std::string::npos) << locked.err;
}

TEST_F(CliUxServerTest, GroupMembersStateAndResetRefusedWhileActive) {
  Ok({"--broker", broker_, "topic", "create", "t", "--partitions", "2"});
  Ok({"--broker", broker_, "produce", "t"}, "a\nb\nc\nd\n");
  Ok({"--broker", broker_, "consume", "t", "--group", "g", "--from-beginning"});

  json state =
      json::parse(Ok({"--broker", broker_, "group", "describe", "g", "--state", "-o", "json"}).out);
  EXPECT_EQ(state["state"], "Empty");
  EXPECT_EQ(state["members"], 0);

  StartKcat("g", "t");
  // Wait (bounded) until the consumer has joined and been assigned both partitions.
  json members;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  for (;;) {
    members = json::parse(
        Ok({"--broker", broker_, "group", "describe", "g", "--members", "-o", "json"}).out);
    if (members["state"] == "Stable" && members["members"].size() == 1 &&
        members["members"][0]["assignment"].size() == 2) {
      break;
    }
    ASSERT_LT(std::chrono::steady_clock::now(), deadline) << members.dump();
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  EXPECT_EQ(members["members"][0]["client_id"], "rdkafka");
  const std::string table = Ok({"--broker", broker_, "group", "describe", "g", "--members"}).out;
  EXPECT_NE(table.find("t:0,1"), std::string::npos) << table;
  EXPECT_EQ(
      Lines(Ok({"--broker", broker_, "group", "describe", "g", "--state"}).out)[1].substr(0, 2),
      "g ");
  state =
      json::parse(Ok({"--broker", broker_, "group", "describe", "g", "--state", "-o", "json"}).out);
  EXPECT_EQ(state["state"], "Stable");
  EXPECT_EQ(state["members"], 1);
  EXPECT_EQ(state["assignor"], "range");

  // Refused, dry run or not, remotely; and embedded the server holds the data directory.
  for (const auto& extra : {std::string("--dry-run"), std::string("--execute")}) {
    RunResult r = Remote({"group", "reset-offsets", "g", "--topic", "t", "--to-earliest", extra});
    ExpectOneLineError(r, 1, "active group " + extra);
    EXPECT_NE(r.err.find("group g is not inactive (state Stable, 1 members)"), std::string::npos)
        << r.err;
  }
  RunResult embedded = Run({"--data-dir", dir_.path(), "group", "reset-offsets", "g", "--topic",
                            "t", "--to-earliest", "--execute"});
  ExpectOneLineError(embedded, 1, "embedded while served");

  StopKcat();
  // Once the member has left (kcat leaves the group on SIGTERM), the reset goes through.
  for (;;) {
    state = json::parse(
        Ok({"--broker", broker_, "group", "describe", "g", "--state", "-o", "json"}).out);
    if (state["members"] == 0) break;
    ASSERT_LT(std::chrono::steady_clock::now(), deadline + std::chrono::seconds(30)) << state;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  json plan = json::parse(Ok({"--broker", broker_, "group", "reset-offsets", "g", "--topic", "t",
                              "--to-earliest", "--execute", "-o", "json"})
                              .out);
  EXPECT_EQ(plan["changed"], true);
  json described =
      json::parse(Ok({"--broker", broker_, "group", "describe", "g", "-o", "json"}).out);
  for (const auto& p : described["partitions"]) EXPECT_EQ(p["committed_offset"], 0) << p;
}

}  // namespace
}  // namespace sluice::cli
