// pharos-bench-grpc-grpcpp: the same gRPC health check as the probe's, made with Debian's
// libgrpc++ instead, measured for memory: the other half of bench/grpc_memory (BENCHMARKS.md).
//
//   pharos-bench-grpc-grpcpp --address HOST:PORT --checks N --concurrency C
//
// Runs N grpc.health.v1.Health/Check calls with at most C in flight on one completion queue,
// each on a channel of its own with a local subchannel pool (a fresh connection per call, as a
// probe's check makes), through the generic stub (no generated code: the request is the empty
// HealthCheckRequest, the answer's field 1 is the serving status). Prints the JSON line of
// GrpcBenchReport. Links neither Pharos nor libcurl.

#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>

#include <chrono>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "bench/grpc_bench_report.h"

namespace pharos::bench {
namespace {

constexpr const char* kMethod = "/grpc.health.v1.Health/Check";
constexpr int kServing = 1;

struct Call {
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<grpc::GenericStub> stub;
  grpc::ClientContext context;
  std::unique_ptr<grpc::GenericClientAsyncResponseReader> reader;
  grpc::ByteBuffer response;
  grpc::Status status;
};

// Field 1 (varint) of a HealthCheckResponse; -1 when absent or malformed.
int ServingStatus(const grpc::ByteBuffer& buffer) {
  std::vector<grpc::Slice> slices;
  if (!buffer.Dump(&slices).ok()) return -1;
  std::string bytes;
  for (const grpc::Slice& slice : slices) {
    bytes.append(reinterpret_cast<const char*>(slice.begin()), slice.size());
  }
  if (bytes.size() < 2 || static_cast<unsigned char>(bytes[0]) != 0x08) return -1;
  const auto value = static_cast<unsigned char>(bytes[1]);
  return value < 0x80 ? value : -1;
}

std::unique_ptr<Call> StartCall(const std::string& address, grpc::CompletionQueue& queue) {
  auto call = std::make_unique<Call>();
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  call->channel = grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(), args);
  call->stub = std::make_unique<grpc::GenericStub>(call->channel);
  call->context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  // One empty message (a ByteBuffer without slices would be no message at all).
  const grpc::Slice nothing("", 0);
  const grpc::ByteBuffer request(&nothing, 1);
  call->reader = call->stub->PrepareUnaryCall(&call->context, kMethod, request, &queue);
  call->reader->StartCall();
  call->reader->Finish(&call->response, &call->status, call.get());
  return call;
}

int Main(int argc, char** argv) {
  GrpcBenchFlags flags;
  std::string error;
  if (!GrpcBenchFlags::Parse("pharos-bench-grpc-grpcpp", argc, argv, flags, error)) {
    std::cerr << error;
    return 2;
  }
  grpc::CompletionQueue queue;
  GrpcBenchReport report("grpcpp", flags);

  std::vector<std::unique_ptr<Call>> in_flight;
  size_t started = 0;
  while (started < flags.checks && in_flight.size() < flags.concurrency) {
    in_flight.push_back(StartCall(flags.address, queue));
    ++started;
  }
  void* tag = nullptr;
  bool ok = false;
  while (!in_flight.empty() && queue.Next(&tag, &ok)) {
    for (auto it = in_flight.begin(); it != in_flight.end(); ++it) {
      if (it->get() != tag) continue;
      const Call& call = **it;
      const bool serving = ok && call.status.ok() && ServingStatus(call.response) == kServing;
      report.Count(serving, ok && call.status.ok()
                                ? "answer is not SERVING"
                                : "grpc status " + std::to_string(call.status.error_code()) + ": " +
                                      call.status.error_message());
      in_flight.erase(it);
      break;
    }
    if (started < flags.checks) {
      in_flight.push_back(StartCall(flags.address, queue));
      ++started;
    }
  }
  std::cout << report.Finish().dump() << std::endl;
  queue.Shutdown();
  while (queue.Next(&tag, &ok)) {
  }
  return report.all_serving() ? 0 : 1;
}

}  // namespace
}  // namespace pharos::bench

int main(int argc, char** argv) { return pharos::bench::Main(argc, argv); }
