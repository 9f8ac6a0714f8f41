#pragma once

// The CLI's client for the SCRAM-credential APIs of a running broker (`sluice user ... --broker`):
// librdkafka 2.0 (Debian 12) has no SCRAM admin API, so these send Kafka's
// DescribeUserScramCredentials / AlterUserScramCredentials requests themselves, with net/'s codec,
// over one blocking TCP connection to a PLAINTEXT or SASL_PLAINTEXT listener. With sasl.username
// and sasl.password among the client properties (-X, --client-config, a profile), or else
// SLUICE_SASL_USERNAME and SLUICE_SASL_PASSWORD in the environment, the connection logs in
// first with SCRAM (sasl.mechanism / SLUICE_SASL_MECHANISM: SCRAM-SHA-512, the default, or
// SCRAM-SHA-256). TLS listeners (security.protocol SSL, SASL_SSL) are refused with a clear
// error (use kafka-configs.sh or any Kafka admin client).

#include <string>
#include <utility>
#include <vector>

#include "cli/kafka_client.h"
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
base::Result<engine::ScramUserMap> DescribeScramCredentials(const kafka::ClientConfig& client);

// Applies the upsertions and deletions; the first per-user error fails, naming the user and
// Kafka's error.
base::Status AlterScramCredentials(
    const kafka::ClientConfig& client, const std::vector<ScramUpsertion>& upsertions,
    const std::vector<std::pair<std::string, engine::ScramMechanism>>& deletions);

}  // namespace sluice::cli
