#include "common/check_result_json.h"

#include <limits>

#include "common/rfc3339.h"

namespace pharos {
namespace {

using nlohmann::json;
using TimePoint = std::chrono::system_clock::time_point;

json OptionalTime(const std::optional<TimePoint>& time) {
  return time ? json(FormatRfc3339(*time)) : json(nullptr);
}

// Reads fields of one JSON object, stopping at the first problem; every error names the field
// by its full path ("timings.dnsUs").
class FieldReader {
 public:
  FieldReader(const json& object, std::string prefix)
      : object_(object), prefix_(std::move(prefix)) {}

  const std::optional<Error>& error() const { return error_; }

  // Absent fields keep their defaults; `required` ones are errors when absent.
  void String(const char* key, std::string* out) {
    const json* value = Find(key);
    if (value == nullptr) {
      return;
    }
    if (!value->is_string()) {
      return Fail(key, "expected a string, got " + TypeName(*value));
    }
    *out = value->get<std::string>();
  }

  template <typename Int>
  void Integer(const char* key, Int* out) {
    const json* value = Find(key);
    if (value == nullptr) {
      return;
    }
    if (!value->is_number_integer()) {
      return Fail(key, "expected an integer, got " + TypeName(*value));
    }
    if (value->is_number_unsigned()) {
      const auto number = value->get<uint64_t>();
      if (number > static_cast<uint64_t>(std::numeric_limits<Int>::max())) {
        return Fail(key, "integer out of range");
      }
      *out = static_cast<Int>(number);
      return;
    }
    const auto number = value->get<int64_t>();
    if (number < static_cast<int64_t>(std::numeric_limits<Int>::min()) ||
        number > static_cast<int64_t>(std::numeric_limits<Int>::max())) {
      return Fail(key, "integer out of range");
    }
    *out = static_cast<Int>(number);
  }

  void Time(const char* key, TimePoint* out) {
    std::optional<TimePoint> time;
    NullableTime(key, &time, /*allow_null=*/false);
    if (time) {
      *out = *time;
    }
  }

  void NullableTime(const char* key, std::optional<TimePoint>* out, bool allow_null = true) {
    const json* value = Find(key);
    if (value == nullptr) {
      return;
    }
    if (value->is_null() && allow_null) {
      out->reset();
      return;
    }
    if (!value->is_string()) {
      return Fail(key, std::string("expected an RFC 3339 timestamp") +
                           (allow_null ? " or null" : "") + ", got " + TypeName(*value));
    }
    Result<TimePoint> time = ParseRfc3339(value->get<std::string>());
    if (!time.ok()) {
      return Fail(key, time.error());
    }
    *out = *time;
  }

  void StringList(const char* key, std::vector<std::string>* out) {
    const json* value = Find(key);
    if (value == nullptr) {
      return;
    }
    if (!value->is_array()) {
      return Fail(key, "expected an array, got " + TypeName(*value));
    }
    out->clear();
    for (size_t i = 0; i < value->size(); ++i) {
      const json& item = (*value)[i];
      if (!item.is_string()) {
        return Fail(std::string(key) + "[" + std::to_string(i) + "]",
                    "expected a string, got " + TypeName(item));
      }
      out->push_back(item.get<std::string>());
    }
  }

  // The object under `key` (nullptr when absent or null, or after an error).
  const json* Object(const char* key, bool allow_null) {
    const json* value = Find(key);
    if (value == nullptr || (value->is_null() && allow_null)) {
      return nullptr;
    }
    if (!value->is_object()) {
      Fail(key, std::string("expected an object") + (allow_null ? " or null" : "") + ", got " +
                    TypeName(*value));
      return nullptr;
    }
    return value;
  }

  // The array under `key` (nullptr when absent or null, or after an error).
  const json* Array(const char* key) {
    const json* value = Find(key);
    if (value == nullptr || value->is_null()) {
      return nullptr;
    }
    if (!value->is_array()) {
      Fail(key, "expected an array, got " + TypeName(*value));
      return nullptr;
    }
    return value;
  }

  void Require(const char* key) {
    if (!error_ && !object_.contains(key)) {
      Fail(key, "missing");
    }
  }

  void Fail(const std::string& key, const std::string& message) {
    if (!error_) {
      error_ = Error{prefix_ + key + ": " + message};
    }
  }

  // Adopts the first error of a nested reader.
  void Merge(const FieldReader& nested) {
    if (!error_ && nested.error_) {
      error_ = nested.error_;
    }
  }

  static std::string TypeName(const json& value) { return value.type_name(); }

 private:
  const json* Find(const char* key) const {
    if (error_) {
      return nullptr;
    }
    const auto found = object_.find(key);
    return found == object_.end() ? nullptr : &*found;
  }

  const json& object_;
  std::string prefix_;
  std::optional<Error> error_;
};

json IcmpToJson(const std::optional<IcmpStats>& icmp) {
  if (!icmp) {
    return nullptr;
  }
  return {{"sent", icmp->sent},
          {"received", icmp->received},
          {"packetLossPercent", icmp->LossPercent()},
          {"rttMinUs", icmp->rtt_min_us},
          {"rttAvgUs", icmp->rtt_avg_us},
          {"rttMaxUs", icmp->rtt_max_us}};
}

void ReadIcmp(FieldReader& reader, const char* key, std::optional<IcmpStats>* out,
              const std::string& prefix) {
  const json* object = reader.Object(key, /*allow_null=*/true);
  if (object == nullptr) {
    return;
  }
  IcmpStats stats;
  FieldReader nested(*object, prefix + key + ".");
  nested.Integer("sent", &stats.sent);
  nested.Integer("received", &stats.received);
  nested.Integer("rttMinUs", &stats.rtt_min_us);
  nested.Integer("rttAvgUs", &stats.rtt_avg_us);
  nested.Integer("rttMaxUs", &stats.rtt_max_us);
  reader.Merge(nested);
  *out = stats;
}

json AddressesToJson(const std::vector<AddressResult>& addresses) {
  json list = json::array();
  for (const AddressResult& address : addresses) {
    list.push_back({{"address", address.address},
                    {"name", address.name},
                    {"outcome", ToString(address.outcome)},
                    {"statusCode", address.status_code},
                    {"totalUs", address.total_us},
                    {"message", address.message},
                    {"icmp", IcmpToJson(address.icmp)}});
  }
  return list;
}

// The icmp stats and per-address results: CheckDetailsToJson's members.
void ReadDetails(FieldReader& reader, CheckResult& result) {
  ReadIcmp(reader, "icmp", &result.icmp, "");
  // Absent in results of probes older than `addresses` (one address per result).
  if (const json* addresses = reader.Array("addresses")) {
    for (size_t i = 0; i < addresses->size() && !reader.error(); ++i) {
      const std::string prefix = "addresses[" + std::to_string(i) + "]";
      const json& item = (*addresses)[i];
      if (!item.is_object()) {
        reader.Fail(prefix, "expected an object, got " + FieldReader::TypeName(item));
        break;
      }
      AddressResult address;
      FieldReader nested(item, prefix + ".");
      nested.Require("address");
      nested.String("address", &address.address);
      nested.String("name", &address.name);
      std::string outcome = "error";
      nested.String("outcome", &outcome);
      if (!nested.error()) {
        if (const std::optional<Outcome> parsed = ParseOutcome(outcome)) {
          address.outcome = *parsed;
        } else {
          nested.Fail("outcome", "unknown outcome \"" + outcome + "\"");
        }
      }
      nested.Integer("statusCode", &address.status_code);
      nested.Integer("totalUs", &address.total_us);
      nested.String("message", &address.message);
      ReadIcmp(nested, "icmp", &address.icmp, prefix + ".");
      reader.Merge(nested);
      result.addresses.push_back(std::move(address));
    }
  }
}

}  // namespace

json CheckResultToJson(const CheckResult& result) {
  json failed = nullptr;
  if (result.failed_assertion) {
    failed = {{"type", result.failed_assertion->type},
              {"expected", result.failed_assertion->expected},
              {"actual", result.failed_assertion->actual},
              {"message", result.failed_assertion->message}};
  }
  return {
      {"namespace", result.monitor_namespace},
      {"name", result.monitor_name},
      {"uid", result.monitor_uid},
      {"generation", result.generation},
      {"type", ToString(result.type)},
      {"target", result.target},
      {"region", result.region},
      {"probe", result.probe},
      {"itemId", result.item_id},
      {"scheduledAt", FormatRfc3339(result.scheduled_at)},
      {"startedAt", FormatRfc3339(result.started_at)},
      {"outcome", ToString(result.outcome)},
      {"statusCode", result.status_code},
      {"timings",
       {{"dnsUs", result.timings.dns_us},
        {"connectUs", result.timings.connect_us},
        {"tlsUs", result.timings.tls_us},
        {"firstByteUs", result.timings.first_byte_us},
        {"transferUs", result.timings.transfer_us},
        {"totalUs", result.timings.total_us}}},
      {"certExpiry", OptionalTime(result.cert_expiry)},
      {"certEarliestExpiry", OptionalTime(result.cert_earliest_expiry)},
      {"failedAssertion", failed},
      {"error", result.error},
      {"attempts", result.attempts},
      {"dnsRecords", result.dns_records},
      {"icmp", IcmpToJson(result.icmp)},
      {"addresses", AddressesToJson(result.addresses)},
  };
}

json CheckDetailsToJson(const CheckResult& result) {
  return {{"icmp", IcmpToJson(result.icmp)}, {"addresses", AddressesToJson(result.addresses)}};
}

Status CheckDetailsFromJson(const json& object, CheckResult& result) {
  if (!object.is_object()) {
    return Error{std::string("check details: expected a JSON object, got ") + object.type_name()};
  }
  CheckResult read;
  FieldReader reader(object, "");
  ReadDetails(reader, read);
  if (reader.error()) {
    return *reader.error();
  }
  result.icmp = read.icmp;
  result.addresses = std::move(read.addresses);
  return OkStatus();
}

Result<CheckResult> CheckResultFromJson(const json& object) {
  if (!object.is_object()) {
    return Error{std::string("check result: expected a JSON object, got ") + object.type_name()};
  }
  CheckResult result;
  FieldReader reader(object, "");
  reader.Require("outcome");
  reader.String("namespace", &result.monitor_namespace);
  reader.String("name", &result.monitor_name);
  reader.String("uid", &result.monitor_uid);
  reader.Integer("generation", &result.generation);

  std::string type = ToString(result.type);
  reader.String("type", &type);
  if (!reader.error()) {
    const std::optional<MonitorType> parsed = ParseMonitorType(type);
    if (!parsed) {
      reader.Fail("type", "unknown monitor type \"" + type +
                              "\" (expected http, tcp, dns, icmp, grpc or push)");
    } else {
      result.type = *parsed;
    }
  }

  reader.String("target", &result.target);
  reader.String("region", &result.region);
  reader.String("probe", &result.probe);
  reader.String("itemId", &result.item_id);
  reader.Time("scheduledAt", &result.scheduled_at);
  reader.Time("startedAt", &result.started_at);

  std::string outcome;
  reader.String("outcome", &outcome);
  if (!reader.error()) {
    const std::optional<Outcome> parsed = ParseOutcome(outcome);
    if (!parsed) {
      reader.Fail("outcome",
                  "unknown outcome \"" + outcome + "\" (expected up, degraded, down or error)");
    } else {
      result.outcome = *parsed;
    }
  }

  reader.Integer("statusCode", &result.status_code);
  if (const json* timings = reader.Object("timings", /*allow_null=*/false)) {
    FieldReader nested(*timings, "timings.");
    nested.Integer("dnsUs", &result.timings.dns_us);
    nested.Integer("connectUs", &result.timings.connect_us);
    nested.Integer("tlsUs", &result.timings.tls_us);
    nested.Integer("firstByteUs", &result.timings.first_byte_us);
    nested.Integer("transferUs", &result.timings.transfer_us);
    nested.Integer("totalUs", &result.timings.total_us);
    reader.Merge(nested);
  }
  reader.NullableTime("certExpiry", &result.cert_expiry);
  reader.NullableTime("certEarliestExpiry", &result.cert_earliest_expiry);
  if (const json* failed = reader.Object("failedAssertion", /*allow_null=*/true)) {
    FailedAssertion assertion;
    FieldReader nested(*failed, "failedAssertion.");
    nested.String("type", &assertion.type);
    nested.String("expected", &assertion.expected);
    nested.String("actual", &assertion.actual);
    nested.String("message", &assertion.message);
    reader.Merge(nested);
    result.failed_assertion = std::move(assertion);
  }
  reader.String("error", &result.error);
  reader.Integer("attempts", &result.attempts);
  reader.StringList("dnsRecords", &result.dns_records);
  ReadDetails(reader, result);

  if (reader.error()) {
    return *reader.error();
  }
  return result;
}

}  // namespace pharos
