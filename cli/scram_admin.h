#pragma once

// The CLI's client for the SCRAM-credential APIs of a running broker (`sluice user ... --broker`):
// librdkafka 2.0 (Debian 12) has no SCRAM admin API, so these send Kafka's
// DescribeUserScramCredentials / AlterUserScramCredentials requests themselves, with net/'s codec,
// over one blocking TCP connection to a PLAINTEXT or SASL_PLAINTEXT listener. With
// SLUICE_SASL_USERNAME and SLUICE_SASL_PASSWORD set (SLUICE_SASL_MECHANISM: SCRAM-SHA-512, the
// default, or SCRAM-SHA-256) the connection authenticates first. TLS listeners are not supported
// here (use kafka-configs.sh or any Kafka admin client).

#include <string>
#include <utility>
#include <vector>

#include "engine/scram_users.h"
#include "segment/base/result.h"

namespace sluice::cli {

struct ScramUpsertion {
  std::string user;
  engine::ScramMechanism mechanism = engine::ScramMechanism::kSha512;
  int32_t iterations = engine::kDefaultScramIterations;
  std::string salt;             // raw
  std::string salted_password;  // raw: Hi(password, salt, iterations)
};

// Every user and the iterations of its credentials (the keys are not sent by the broker: the
// credentials in the result have only `iterations` set).
base::Result<engine::ScramUserMap> DescribeScramCredentials(const std::string& broker);

// Applies the upsertions and deletions; the first per-user error fails, naming the user and
// Kafka's error.
base::Status AlterScramCredentials(
    const std::string& broker, const std::vector<ScramUpsertion>& upsertions,
    const std::vector<std::pair<std::string, engine::ScramMechanism>>& deletions);

}  // namespace sluice::cli
