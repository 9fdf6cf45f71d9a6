// vigilctl connect, enroll, health, new-id: getting a credential into the
// home and checking the server.
#include <iostream>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "client/vigilctl_commands.h"
#include "client/vigilctl_values.h"
#include "grpcpp/generic/generic_stub.h"

namespace vigil::vigilctl {
namespace {

// grpc.health.v1.Health/Check for the whole server, through a generic call
// (Debian ships no C++ stub for it): 1 SERVING, 2 NOT_SERVING, 0 UNKNOWN.
grpc::Status HealthCheck(const std::shared_ptr<grpc::Channel>& channel, int* serving) {
  grpc::GenericStub stub(channel);
  auto context = CallContext();
  grpc::CompletionQueue cq;
  grpc::Slice empty("");  // HealthCheckRequest{service: ""}: no bytes.
  grpc::ByteBuffer request(&empty, 1);
  auto call = stub.PrepareUnaryCall(context.get(), "/grpc.health.v1.Health/Check", request, &cq);
  call->StartCall();
  grpc::ByteBuffer response;
  grpc::Status status;
  call->Finish(&response, &status, reinterpret_cast<void*>(1));
  void* tag = nullptr;
  bool ok = false;
  cq.Next(&tag, &ok);
  cq.Shutdown();
  while (cq.Next(&tag, &ok)) {
  }
  if (!status.ok()) return status;
  std::vector<grpc::Slice> slices;
  std::string bytes;
  if (response.Dump(&slices).ok()) {
    for (const auto& s : slices) bytes.append(reinterpret_cast<const char*>(s.begin()), s.size());
  }
  // HealthCheckResponse{status = 1: enum}: "\x08" then the value.
  *serving = bytes.size() == 2 && bytes[0] == 0x08 ? bytes[1] : 0;
  return grpc::Status::OK;
}

std::string HealthName(int serving) {
  switch (serving) {
    case 1:
      return "SERVING";
    case 2:
      return "NOT_SERVING";
    default:
      return "UNKNOWN";
  }
}

// "anna (field-monitor), device 0190... "Tablet A""
std::string Who(const vigil::v1::WhoAmIResponse& me) {
  std::string out = absl::StrCat(me.user().user_id(), " (", EnumWord(me.user().role()), ")");
  if (!me.device().device_id().empty()) {
    absl::StrAppend(&out, ", device ", me.device().device_id());
    if (!me.device().name().empty()) absl::StrAppend(&out, " \"", me.device().name(), "\"");
  }
  return out;
}

JsonObject WhoJson(const vigil::v1::WhoAmIResponse& me) {
  JsonObject o;
  o.Str("user_id", me.user().user_id())
      .Str("display_name", me.user().display_name())
      .Str("role", EnumWord(me.user().role()))
      .Str("device_id", me.device().device_id())
      .Str("device_name", me.device().name());
  return o;
}

grpc::Status WhoAmI(vigil::v1::AdminService::Stub& stub, vigil::v1::WhoAmIResponse* me) {
  auto context = CallContext();
  return stub.WhoAmI(context.get(), vigil::v1::WhoAmIRequest(), me);
}

}  // namespace

int Connect(const Globals& g, const ServerFlags& server, const std::string& token_file) {
  absl::StatusOr<client::ServerAddress> address = AddressFrom(server);
  if (!address.ok()) return Usage(address.status().message());
  absl::StatusOr<std::string> token = ReadTextFile(token_file);
  if (!token.ok()) return Usage(absl::StrCat("cannot read the token file ", token_file));
  int code = kExitOk;
  auto replica = OpenHome(g, &code);
  if (!replica) return code;
  absl::Status stored =
      replica->SetCredentials(*address, std::string(absl::StripAsciiWhitespace(*token)));
  if (!stored.ok()) return Fail(absl::StrCat("connecting to ", server.server), stored);
  auto stub = AdminStub(g, *replica, &code);
  if (!stub) return code;
  vigil::v1::WhoAmIResponse me;
  if (grpc::Status s = WhoAmI(*stub, &me); !s.ok()) return Fail("asking who this is", s);
  g.out().Result(WhoJson(me).Str("server", server.server).Str("home", g.home),
                 absl::StrCat("connected to ", server.server, " as ", Who(me),
                              "\nthe credential is stored in ", g.home));
  return kExitOk;
}

int Enroll(const Globals& g, const ServerFlags& server, const std::string& enrollment_code,
           const std::string& device_name) {
  absl::StatusOr<client::ServerAddress> address = AddressFrom(server);
  if (!address.ok()) return Usage(address.status().message());
  int code = kExitOk;
  auto replica = OpenHome(g, &code);
  if (!replica) return code;
  absl::Status enrolled = replica->Enroll(*address, enrollment_code, device_name);
  if (!enrolled.ok()) return Fail(absl::StrCat("enrolling with ", server.server), enrolled);
  auto stub = AdminStub(g, *replica, &code);
  if (!stub) return code;
  vigil::v1::WhoAmIResponse me;
  if (grpc::Status s = WhoAmI(*stub, &me); !s.ok()) return Fail("asking who this is", s);
  g.out().Result(WhoJson(me).Str("server", server.server).Str("home", g.home),
                 absl::StrCat("enrolled with ", server.server, " as ", Who(me),
                              "\nnext: vigilctl follow VISIT_ID, then vigilctl sync"));
  return kExitOk;
}

int Health(const Globals& g, const ServerFlags* server) {
  client::ServerAddress address;
  std::string token;
  int code = kExitOk;
  std::unique_ptr<client::Replica> replica;
  if (server == nullptr) {
    replica = OpenHome(g, &code);
    if (!replica) return code;
  }
  absl::StatusOr<vigil::internal::ClientProfile> profile =
      replica ? replica->Profile() : absl::NotFoundError("");
  if (profile.ok()) {
    address.target = profile->server();
    address.ca_pem = profile->ca_pem();
    address.plaintext = profile->plaintext();
    address.client_cert_pem = profile->client_cert_pem();
    address.client_key_pem = profile->client_key_pem();
    token = profile->token();
  } else {
    absl::StatusOr<client::ServerAddress> from_flags =
        AddressFrom(server ? *server : ServerFlags());
    if (!from_flags.ok()) return Usage(from_flags.status().message());
    address = *from_flags;
  }
  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel = client::MakeChannel(address, "");
  if (!channel.ok()) return Fail("connecting", channel.status());
  int serving = 0;
  if (grpc::Status s = HealthCheck(*channel, &serving); !s.ok()) {
    return Fail(absl::StrCat("health check of ", address.target), s);
  }
  JsonObject result;
  result.Str("server", address.target).Str("health", HealthName(serving));
  std::string text = absl::StrCat(address.target, ": ", HealthName(serving));
  int exit_code = serving == 1 ? kExitOk : kExitFailure;
  if (!token.empty()) {
    absl::StatusOr<std::shared_ptr<grpc::Channel>> authed = client::MakeChannel(address, token);
    if (!authed.ok()) return Fail("connecting", authed.status());
    vigil::v1::WhoAmIResponse me;
    grpc::Status s = WhoAmI(*vigil::v1::AdminService::NewStub(*authed), &me);
    if (!s.ok()) {
      g.out().Result(result, text);
      return Fail("checking this home's credential", s);
    }
    result.Raw("whoami", WhoJson(me).str());
    absl::StrAppend(&text, "\nsigned in as ", Who(me));
  }
  g.out().Result(result, text);
  return exit_code;
}

int PrintNewId(const Globals& g) {
  const std::string id = NewId();
  g.out().Result(JsonObject().Str("id", id), id);
  return id.empty() ? kExitFailure : kExitOk;
}

}  // namespace vigil::vigilctl
