// vigilctl review, for what sync merged: open conflicts across visits (list,
// side by side, resolve from the desk) and parallel updates (list, side by
// side, check).
#include <set>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "client/vigilctl_commands.h"
#include "client/vigilctl_review_session.h"
#include "client/vigilctl_values.h"
#include "google/protobuf/text_format.h"
#include "sync/record_merge.h"

namespace vigil::vigilctl {
namespace {

// A server record as the tablet's views take it.
client::LocalView ViewOfServer(const vigil::v1::Record& record) {
  client::LocalView view;
  view.id = record.id();
  view.scope = record.scope();
  view.body = record.body();
  view.deleted = record.deleted();
  view.server_revision = record.revision();
  return view;
}

}  // namespace

int ReviewConflicts(const Globals& g, const ConflictFilterArgs& filter) {
  vigil::v1::ListConflictsRequest request;
  if (!filter.visit.empty()) {
    absl::StatusOr<std::string> visit_id = VisitArg(filter.visit);
    if (!visit_id.ok()) return Usage(visit_id.status().message());
    request.set_parent("visits/" + *visit_id);
  }
  request.set_facility_id(filter.facility);
  request.set_record_kind(filter.kind);
  request.set_field_path(filter.path);
  return AllPages<vigil::v1::ListConflictsRequest, vigil::v1::ListConflictsResponse>(
      g, request, "conflicts",
      [](auto& stub, auto* context, const auto& r, auto* page) {
        return stub.ListConflicts(context, r, page);
      },
      [&](const vigil::v1::ListConflictsResponse& page) {
        for (const auto& c : page.conflicts()) {
          g.out().Result(JsonObject().Proto("conflict", c),
                         absl::StrCat(c.name(), "  ", c.visit(), "  ", c.record_kind(), " ",
                                      c.conflict().record_id(), "  ",
                                      c.conflict().field_path().empty() ? "(whole record)"
                                                                        : c.conflict().field_path(),
                                      "  ", c.conflict().versions_size(), " versions"));
        }
      });
}

int ReviewConflict(const Globals& g, const std::string& name) {
  int code = kExitOk;
  ReviewSession s;
  if (!StartReview(g, s, &code)) return code;
  vigil::v1::GetConflictRequest request;
  request.set_name(name);
  vigil::v1::ConflictView view;
  auto context = CallContext();
  if (grpc::Status st = s.stub->GetConflict(context.get(), request, &view); !st.ok()) {
    return Fail(absl::StrCat("reading ", name), st);
  }
  const client::LocalView record = ViewOfServer(view.record());
  g.out().Result(ConflictJson(view.conflict(), record).Str("etag", view.etag()),
                 absl::StrCat(ConflictText(view.conflict(), record), "etag ", view.etag()));
  return kExitOk;
}

int ReviewResolve(const Globals& g, const std::string& name, std::optional<int> take,
                  const std::optional<std::string>& value, const std::string& reason) {
  if (take.has_value() == value.has_value()) return Usage("give --take N or --value V");
  if (take.has_value() && *take < 0) return Usage("--take: a side's number, 0 for the base");
  int code = kExitOk;
  ReviewSession s;
  if (!StartReview(g, s, &code)) return code;
  vigil::v1::ResolveConflictRequest request;
  request.set_name(name);
  request.set_reason(reason);
  if (take.has_value()) {
    request.set_take(static_cast<std::uint32_t>(*take));
  } else {
    // The new value is parsed against the record as the server shows it.
    vigil::v1::GetConflictRequest get;
    get.set_name(name);
    vigil::v1::ConflictView view;
    auto context = CallContext();
    if (grpc::Status st = s.stub->GetConflict(context.get(), get, &view); !st.ok()) {
      return Fail(absl::StrCat("reading ", name), st);
    }
    absl::StatusOr<vigil::v1::RecordBody> body =
        SetValue(view.record().body(), view.conflict(), *value);
    if (!body.ok()) return Usage(body.status().message());
    *request.mutable_body() = *std::move(body);
    request.set_etag(view.etag());
  }
  request.set_request_id(NewId());
  vigil::v1::ResolveConflictResponse resolved;
  grpc::Status st = SameRequestRetried([&](grpc::ClientContext* context) {
    return s.stub->ResolveConflict(context, request, &resolved);
  });
  if (!st.ok()) return Fail(absl::StrCat("resolving ", name), st);
  g.out().Result(
      JsonObject().Proto("resolved", resolved),
      absl::StrCat("resolved: ", KindOf(resolved.record().body()), " ", resolved.record().id(),
                   " is at revision ", resolved.record().revision(), ", ",
                   resolved.record().open_conflicts_size(),
                   " open conflicts; the reason is comment ", resolved.comment_id()));
  return kExitOk;
}

namespace {

// The value of `field` of `record`'s body (its kind's), on one line.
std::string FieldText(const vigil::v1::Record& record, const std::string& field) {
  const google::protobuf::FieldDescriptor* kind = sync::BodyKindField(record.body());
  if (kind == nullptr) return "(none)";
  const google::protobuf::Message& m =
      record.body().GetReflection()->GetMessage(record.body(), kind);
  const google::protobuf::FieldDescriptor* f = m.GetDescriptor()->FindFieldByName(field);
  if (f == nullptr) return "(none)";
  google::protobuf::TextFormat::Printer printer;
  printer.SetSingleLineMode(true);
  if (f->is_repeated()) {
    std::vector<std::string> values;
    for (int i = 0; i < m.GetReflection()->FieldSize(m, f); ++i) {
      std::string one;
      printer.PrintFieldValueToString(m, f, i, &one);
      values.push_back(std::move(one));
    }
    return "[" + absl::StrJoin(values, ", ") + "]";
  }
  if (!m.GetReflection()->HasField(m, f)) return "(unset)";
  std::string text;
  printer.PrintFieldValueToString(m, f, -1, &text);
  return text;
}

std::string Sides(const vigil::v1::ParallelUpdate& p) {
  std::vector<std::string> sides;
  for (const auto& v : p.versions()) {
    sides.push_back(v.changed_fields().empty() ? "(nothing you may see)"
                                               : absl::StrJoin(v.changed_fields(), ", "));
  }
  return absl::StrJoin(sides, " | ");
}

std::string Author(const vigil::v1::ParallelVersion& v) {
  std::vector<std::string> by;
  for (const auto& e : v.edits()) by.push_back(e.author() + "@" + e.device_id());
  return absl::StrJoin(by, ", ");
}

std::string ParallelText(const vigil::v1::ParallelUpdate& p) {
  std::string text =
      absl::StrCat(p.name(), "  ", p.visit(), "  ", p.record_kind(), " ", p.record(),
                   "\n  merged at ", FormatTimestamp(p.merged_at()), " into revision ",
                   p.merged().revision(), "; made on revision ", p.base().revision());
  std::set<std::string> fields;
  for (std::size_t i = 0; i < static_cast<std::size_t>(p.versions_size()); ++i) {
    const auto& v = p.versions(static_cast<int>(i));
    absl::StrAppend(&text, "\n  ", i == 0 ? "as it stood" : "the edit", " (", Author(v),
                    "): changed ",
                    v.changed_fields().empty() ? "nothing you may see"
                                               : absl::StrJoin(v.changed_fields(), ", "));
    fields.insert(v.changed_fields().begin(), v.changed_fields().end());
  }
  for (const std::string& f : fields) {
    absl::StrAppend(&text, "\n  ", f, ":\n    base:   ", FieldText(p.base(), f));
    for (int i = 0; i < p.versions_size(); ++i) {
      absl::StrAppend(&text, "\n    ",
                      i == 0 ? "stood:  " : "edit:   ", FieldText(p.versions(i).record(), f));
    }
    absl::StrAppend(&text, "\n    merged: ", FieldText(p.merged(), f));
  }
  absl::StrAppend(&text, "\n  ",
                  p.checked() ? absl::StrCat("checked by ", p.checked_by_user_id(), " at ",
                                             FormatTimestamp(p.checked_at()))
                              : "not checked",
                  "\n  etag ", p.etag());
  return text;
}

}  // namespace

int ReviewParallel(const Globals& g, const ParallelFilterArgs& filter) {
  vigil::v1::ListParallelUpdatesRequest request;
  if (!filter.visit.empty()) {
    absl::StatusOr<std::string> visit_id = VisitArg(filter.visit);
    if (!visit_id.ok()) return Usage(visit_id.status().message());
    request.set_parent("visits/" + *visit_id);
  }
  request.set_record_kind(filter.kind);
  request.set_checked(filter.checked);
  return AllPages<vigil::v1::ListParallelUpdatesRequest, vigil::v1::ListParallelUpdatesResponse>(
      g, request, "parallel updates",
      [](auto& stub, auto* context, const auto& r, auto* page) {
        return stub.ListParallelUpdates(context, r, page);
      },
      [&](const vigil::v1::ListParallelUpdatesResponse& page) {
        for (const auto& p : page.parallel_updates()) {
          g.out().Result(
              JsonObject().Proto("parallel_update", p),
              absl::StrCat(p.name(), "  ", p.visit(), "  ", p.record_kind(), " ", p.record(), "  ",
                           Sides(p), p.checked() ? "  checked by " + p.checked_by_user_id() : ""));
        }
      });
}

int ReviewParallelUpdate(const Globals& g, const std::string& name) {
  int code = kExitOk;
  ReviewSession s;
  if (!StartReview(g, s, &code)) return code;
  vigil::v1::GetParallelUpdateRequest request;
  request.set_name(name);
  vigil::v1::ParallelUpdate view;
  auto context = CallContext();
  if (grpc::Status st = s.stub->GetParallelUpdate(context.get(), request, &view); !st.ok()) {
    return Fail(absl::StrCat("reading ", name), st);
  }
  g.out().Result(JsonObject().Proto("parallel_update", view), ParallelText(view));
  return kExitOk;
}

int ReviewCheck(const Globals& g, const std::string& name, const std::string& etag) {
  int code = kExitOk;
  ReviewSession s;
  if (!StartReview(g, s, &code)) return code;
  vigil::v1::CheckParallelUpdateRequest request;
  request.set_name(name);
  request.set_etag(etag);
  request.set_request_id(NewId());
  vigil::v1::ParallelUpdate checked;
  grpc::Status st = SameRequestRetried([&](grpc::ClientContext* context) {
    return s.stub->CheckParallelUpdate(context, request, &checked);
  });
  if (!st.ok()) return Fail(absl::StrCat("checking ", name), st);
  g.out().Result(JsonObject().Proto("parallel_update", checked),
                 absl::StrCat("checked: ", checked.name(), " (", checked.record_kind(), " ",
                              checked.record(), ")"));
  return kExitOk;
}

}  // namespace vigil::vigilctl
