// Scopes: what a device syncs, and what rights are granted on. A value type
// parsed once at the edge (Parse) and passed typed: "registry",
// "visits/{visit_id}" or "facilities/{facility_id}", the id a canonical
// record id (sync/ids.h), so that one scope has exactly one spelling.
#ifndef VIGIL_SYNC_SCOPE_H_
#define VIGIL_SYNC_SCOPE_H_

#include <string>
#include <string_view>
#include <utility>

#include "absl/status/statusor.h"

namespace vigil::sync {

class Scope {
 public:
  enum class Kind { kRegistry, kVisit, kFacility };

  // InvalidArgument, reason SCOPE_INVALID with metadata "scope", for anything
  // but the three forms.
  static absl::StatusOr<Scope> Parse(std::string_view text);
  static Scope Registry() { return Scope(Kind::kRegistry, "registry", 0); }
  // The scope of visit `visit_id`, which must be a valid record id (the id
  // of a stored or validated record); InvalidArgument otherwise.
  static absl::StatusOr<Scope> Visit(std::string_view visit_id);

  Kind kind() const { return kind_; }
  bool is_visit() const { return kind_ == Kind::kVisit; }
  // The visit's or facility's id; empty for the registry.
  std::string_view id() const { return std::string_view(text_).substr(id_offset_); }
  // The canonical spelling.
  const std::string& str() const { return text_; }

  friend bool operator==(const Scope& a, const Scope& b) { return a.text_ == b.text_; }
  friend bool operator<(const Scope& a, const Scope& b) { return a.text_ < b.text_; }

 private:
  Scope(Kind kind, std::string text, std::size_t id_offset)
      : kind_(kind), text_(std::move(text)), id_offset_(id_offset) {}

  Kind kind_;
  std::string text_;
  std::size_t id_offset_;
};

// The id of the visit `scope` names ("visits/{id}"), or empty when `scope`
// is not a visit's: for code that holds a scope already validated and stored.
std::string_view VisitIdOf(std::string_view scope);

}  // namespace vigil::sync

#endif  // VIGIL_SYNC_SCOPE_H_
