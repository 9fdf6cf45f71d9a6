#include "sync/merge.h"

#include <algorithm>
#include <cstring>
#include <optional>
#include <tuple>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/container/btree_map.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "base/deterministic_bytes.h"
#include "base/status_macros.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"
#include "google/protobuf/unknown_field_set.h"
#include "sync/diff3.h"
#include "sync/merge_policy.h"
#include "sync/reflection_util.h"
#include "sync/stable_hash.h"

namespace vigil::sync {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::OneofDescriptor;
using google::protobuf::Reflection;
using google::protobuf::UnknownFieldSet;
using vigil::v1::Conflict;
using vigil::v1::ConflictKind;
using vigil::v1::ConflictVersion;
using vigil::v1::EditStamp;
using vigil::v1::FieldStamp;
using vigil::v1::FieldValue;

namespace {

constexpr int kMaxDepth = 64;

// Descriptors that passed ValidateMergeSchema (schemas never change at run
// time, so each type is checked once per process).
absl::Status ValidateOnce(const Descriptor* type) {
  static absl::Mutex mu(absl::kConstInit);
  static auto* valid ABSL_GUARDED_BY(mu) =
      new absl::flat_hash_set<const Descriptor*>();
  {
    absl::ReaderMutexLock lock(&mu);
    if (valid->contains(type)) return absl::OkStatus();
  }
  RETURN_IF_ERROR(ValidateMergeSchema(type));
  absl::MutexLock lock(&mu);
  valid->insert(type);
  return absl::OkStatus();
}

bool SameValue(const FieldValue& a, const FieldValue& b) {
  return a.present() == b.present() && a.carrier() == b.carrier();
}

const EditStamp& Later(const EditStamp& a, const EditStamp& b) {
  return EditBefore(a, b) ? b : a;
}

// Appends ".name" (or "name" at the root) to a path and restores it on exit.
class PathPart {
 public:
  PathPart(std::string* path, std::string_view part) : path_(path) {
    old_size_ = path->size();
    if (!path->empty()) path->push_back('.');
    path->append(part);
  }
  // A keyed-list element: "[id=...]" after the list's path.
  struct Element {};
  PathPart(std::string* path, Element, std::string_view id) : path_(path) {
    old_size_ = path->size();
    path->append("[id=").append(id).append("]");
  }
  ~PathPart() { path_->resize(old_size_); }
  PathPart(const PathPart&) = delete;
  PathPart& operator=(const PathPart&) = delete;

 private:
  std::string* path_;
  size_t old_size_;
};

class Merger {
 public:
  explicit Merger(const MergeInput& in) : in_(in) {
    if (in.theirs_stamps != nullptr) {
      for (const FieldStamp& s : *in.theirs_stamps) {
        stamps_[s.field_path()] = s.edit();
      }
    }
    if (in.open_conflicts != nullptr) {
      for (const Conflict& c : *in.open_conflicts) {
        if (!c.field_path().empty() && !by_path_.contains(c.field_path())) {
          by_path_[c.field_path()] = conflicts_.size();
        }
        conflicts_.push_back(c);
      }
    }
    if (in.text_merges != nullptr) {
      for (const Conflict& c : *in.text_merges) {
        text_merges_.try_emplace(c.field_path(), c);
      }
    }
  }

  absl::Status Run(const Message& base, MergeResult* result) {
    std::string path;
    if (conflicts_.empty() && MessagesEqual(base, *in_.theirs)) {
      // Fast forward (the edit was made on the head): the result is ours;
      // only the field stamps need the paths it changed.
      RETURN_IF_ERROR(StampChanges(base, *in_.ours, &path, 0));
      result->merged.reset(in_.ours->New());
      result->merged->CopyFrom(*in_.ours);
    } else {
      result->merged.reset(in_.theirs->New());
      result->merged->CopyFrom(*in_.theirs);
      RETURN_IF_ERROR(MergeMessage(base, *in_.theirs, *in_.ours,
                                   result->merged.get(), &path, 0));
    }
    for (Conflict& c : conflicts_) {
      if (touched_.contains(c.field_path())) {
        c.set_id(ConflictId(c));
        result->touched_conflict_ids.push_back(c.id());
      }
    }
    std::sort(conflicts_.begin(), conflicts_.end(),
              [](const Conflict& a, const Conflict& b) {
                return std::tie(a.field_path(), a.id()) <
                       std::tie(b.field_path(), b.id());
              });
    std::sort(result->touched_conflict_ids.begin(),
              result->touched_conflict_ids.end());
    result->open_conflicts = std::move(conflicts_);
    result->stamps.reserve(stamps_.size());
    for (auto& [path_key, edit] : stamps_) {
      FieldStamp& s = result->stamps.emplace_back();
      s.set_field_path(path_key);
      *s.mutable_edit() = edit;
    }
    result->text_merges.reserve(text_merges_.size());
    for (auto& [path_key, merge] : text_merges_) {
      result->text_merges.push_back(std::move(merge));
    }
    return absl::OkStatus();
  }

 private:
  // Precondition: *out equals `theirs`. Applies ours' changes against base.
  absl::Status MergeMessage(const Message& base, const Message& theirs,
                            const Message& ours, Message* out,
                            std::string* path, int depth) {
    if (depth > kMaxDepth) {
      return absl::InvalidArgumentError(absl::StrCat(
          "message nested deeper than ", kMaxDepth, " at ", *path));
    }
    const Descriptor* type = ours.GetDescriptor();
    const Reflection* base_reflection = base.GetReflection();
    const Reflection* our_reflection = ours.GetReflection();
    for (int i = 0; i < type->field_count(); ++i) {
      const FieldDescriptor* f = type->field(i);
      if (f->real_containing_oneof() != nullptr) continue;
      if (FieldEqual(base, base_reflection, ours, our_reflection, f)) {
        continue;  // ours did not touch it
      }
      PathPart part(path, f->name());
      RETURN_IF_ERROR(
          MergeChangedField(base, theirs, ours, out, f, path, depth));
    }
    for (int i = 0; i < type->real_oneof_decl_count(); ++i) {
      RETURN_IF_ERROR(MergeOneof(base, theirs, ours, out, type->oneof_decl(i),
                                 path, depth));
    }
    MergeUnknownFields(base, theirs, ours, out, *path);
    return absl::OkStatus();
  }

  // `f` differs between base and ours.
  absl::Status MergeChangedField(const Message& base, const Message& theirs,
                                 const Message& ours, Message* out,
                                 const FieldDescriptor* f, std::string* path,
                                 int depth) {
    switch (PolicyOf(f)) {
      case FieldPolicy::kRecurse:
        return MergeSubMessage(base, theirs, ours, out, f, path, depth);
      case FieldPolicy::kKeyedList:
        return MergeKeyedList(base, theirs, ours, out, f, path, depth);
      case FieldPolicy::kSet:
        MergeSet(base, theirs, ours, out, f);
        return absl::OkStatus();
      case FieldPolicy::kText:
        MergeTextField(base, theirs, ours, out, f, *path);
        return absl::OkStatus();
      case FieldPolicy::kRegister:
        MergeRegister(base, theirs, ours, out, f, *path);
        return absl::OkStatus();
    }
    return absl::OkStatus();
  }

  absl::Status MergeSubMessage(const Message& base, const Message& theirs,
                               const Message& ours, Message* out,
                               const FieldDescriptor* f, std::string* path,
                               int depth) {
    const Reflection* r = ours.GetReflection();
    if (!r->HasField(ours, f) && FieldEqual(base, theirs, f)) {
      out->GetReflection()->ClearField(out, f);
      SetStampSubtree(*path, in_.ours_edit);
      return absl::OkStatus();
    }
    // GetMessage yields the default instance for an unset field, so a side
    // without the sub-message merges as an empty one.
    return MergeMessage(
        base.GetReflection()->GetMessage(base, f),
        theirs.GetReflection()->GetMessage(theirs, f), r->GetMessage(ours, f),
        out->GetReflection()->MutableMessage(out, f), path, depth + 1);
  }

  void MergeRegister(const Message& base, const Message& theirs,
                     const Message& ours, Message* out,
                     const FieldDescriptor* f, const std::string& path) {
    const bool open = by_path_.contains(path);
    if (!open && FieldEqual(base, theirs, f)) {
      CopyField(ours, out, f);
      SetStamp(path, in_.ours_edit);
      return;
    }
    if (!open && FieldEqual(theirs, ours, f)) {
      SetStamp(path, Later(TheirStamp(path), in_.ours_edit));
      return;
    }
    const EditStamp* winner =
        Compete(path, vigil::v1::CONFLICT_KIND_FIELD, ValueOf(base, f),
                ValueOf(theirs, f), TheirStamp(path), ValueOf(ours, f));
    if (winner->mutation_id() == in_.ours_edit.mutation_id()) {
      CopyField(ours, out, f);
      SetStamp(path, in_.ours_edit);
    }
  }

  void MergeTextField(const Message& base, const Message& theirs,
                      const Message& ours, Message* out,
                      const FieldDescriptor* f, const std::string& path) {
    const bool open = by_path_.contains(path);
    Conflict* merge = open ? nullptr : JoinableTextMerge(base, f, path);
    if (!open && merge == nullptr && FieldEqual(base, theirs, f)) {
      CopyField(ours, out, f);
      SetStamp(path, in_.ours_edit);
      return;
    }
    const EditStamp their_edit = TheirStamp(path);
    if (merge != nullptr) {
      // One more concurrent edit: the text is the n-way merge of them all,
      // and if they overlap, the conflict of them all.
      AddVersion(merge, ValueOf(ours, f), in_.ours_edit);
      if (RemergeText(merge, ours, out, f, path)) return;
      Conflict& c = OpenConflict(path, vigil::v1::CONFLICT_KIND_TEXT,
                                 merge->base());
      for (const ConflictVersion& v : merge->versions()) {
        AddVersion(&c, v.value(), v.edit());
      }
      text_merges_.erase(path);
      c.set_winner_mutation_id(
          c.versions(c.versions_size() - 1).edit().mutation_id());
      RemergeText(&c, ours, out, f, path);
      return;
    }
    if (!open) {
      const bool ours_later = EditBefore(their_edit, in_.ours_edit);
      std::string scratch_b, scratch_t, scratch_o;
      TextMergeResult merged = MergeText(
          base.GetReflection()->GetStringReference(base, f, &scratch_b),
          theirs.GetReflection()->GetStringReference(theirs, f, &scratch_t),
          ours.GetReflection()->GetStringReference(ours, f, &scratch_o),
          ours_later ? TextSide::kOurs : TextSide::kTheirs);
      if (merged.clean()) {
        out->GetReflection()->SetString(out, f, std::move(merged.merged));
        SetStamp(path, ours_later ? in_.ours_edit : their_edit);
        // Each edit's own text is kept, so that an edit overlapping one of
        // them later finds them both, as when it arrives first.
        Conflict m;
        m.set_record_id(in_.record_id);
        m.set_field_path(path);
        m.set_kind(vigil::v1::CONFLICT_KIND_TEXT);
        *m.mutable_base() = ValueOf(base, f);
        AddVersion(&m, ValueOf(theirs, f), their_edit);
        AddVersion(&m, ValueOf(ours, f), in_.ours_edit);
        if (m.versions_size() > 1) text_merges_[path] = std::move(m);
        return;
      }
    }
    Compete(path, vigil::v1::CONFLICT_KIND_TEXT, ValueOf(base, f),
            ValueOf(theirs, f), their_edit, ValueOf(ours, f));
    RemergeText(&conflicts_[by_path_.at(path)], ours, out, f, path);
  }

  // The head's text merge at `path` if the edit was made on the text the
  // merge began from (it saw none of the merged edits); nullptr if there is
  // none or the edit was made on any other text, which ends the merge. Such
  // an edit saw some of the merged edits (made on a later revision, or
  // chained on one of them) or none of what came before them (made on an
  // older revision). Its own text against the merge's base would count what
  // it saw as its own change, competing with later edits of those lines
  // that it never saw, and put back lines they replaced; so it is merged
  // three-way against the text it saw, as when there is no text merge, and
  // that is right for every edit of other lines whatever it saw.
  // Regression (issue 15): a chained edit and an edit made between the
  // chain's two edits opened a false conflict and reverted a third line.
  Conflict* JoinableTextMerge(const Message& base, const FieldDescriptor* f,
                              const std::string& path) {
    auto it = text_merges_.find(path);
    if (it == text_merges_.end()) return nullptr;
    if (SameValue(ValueOf(base, f), it->second.base())) return &it->second;
    text_merges_.erase(it);
    return nullptr;
  }

  // The value at `path` (with `subtree`, everything below it) was written
  // whole, by an edit that saw it or replacing it: its text merges end.
  void EndTextMerges(const std::string& path, bool subtree) {
    text_merges_.erase(path);
    if (!subtree) return;
    for (const char sep : {'.', '['}) {
      const std::string prefix = path + sep;
      auto it = text_merges_.lower_bound(prefix);
      while (it != text_merges_.end() &&
             std::string_view(it->first).substr(0, prefix.size()) == prefix) {
        it = text_merges_.erase(it);
      }
    }
  }

  // Sets the head's text at `path` and the hunks of text conflict `c` from
  // the n-way merge of its versions against its base, so that they depend
  // on the set of versions only, not on the order in which the versions
  // arrived. The versions are each edit's own text (an edit that joins
  // later is added with its own text, and the head's text is never added
  // under an edit that is a version already). Every version is compared with
  // the conflict's base, whatever revision its edit was made on: a later
  // edit that puts a region back to its base text does not compete for it
  // (its text stays in its version; naming the conflict settles it).
  // `prototype` has the type of the message holding the field.
  // Returns whether the versions merged without overlap.
  bool RemergeText(Conflict* c, const Message& prototype, Message* out,
                   const FieldDescriptor* f, const std::string& path) {
    std::unique_ptr<Message> carrier(prototype.New());
    auto text_of = [&carrier, f](const FieldValue& v) {
      carrier->Clear();
      if (!v.present() || !carrier->ParseFromString(v.carrier())) {
        return std::string();
      }
      return carrier->GetReflection()->GetString(*carrier, f);
    };
    const std::string base_text = text_of(c->base());
    std::vector<std::string> texts;
    texts.reserve(c->versions_size());
    for (const ConflictVersion& v : c->versions()) {
      texts.push_back(text_of(v.value()));
    }
    TextMergeAllResult merged = MergeTexts(
        base_text, std::vector<std::string_view>(texts.begin(), texts.end()));
    c->clear_hunks();
    for (TextRegionConflict& region : merged.conflicts) {
      vigil::v1::TextHunk* hunk = c->add_hunks();
      hunk->set_base_first_line(static_cast<uint32_t>(region.base_first_line));
      hunk->set_base_text(std::move(region.base));
      // In the order of Conflict.versions (earlier edit first).
      for (auto& [index, text] : region.texts) {
        vigil::v1::HunkVersion* v = hunk->add_versions();
        v->set_mutation_id(
            c->versions(static_cast<int>(index)).edit().mutation_id());
        v->set_text(std::move(text));
      }
    }
    out->GetReflection()->SetString(out, f, std::move(merged.merged));
    SetStamp(path, c->versions(c->versions_size() - 1).edit());
    return c->hunks_size() == 0;
  }

  void MergeSet(const Message& base, const Message& theirs, const Message& ours,
                Message* out, const FieldDescriptor* f) {
    if (FieldEqual(base, theirs, f)) {
      CopyField(ours, out, f);
      return;
    }
    absl::flat_hash_set<std::string> in_base, in_ours, in_theirs;
    for (int i = 0; i < FieldSize(base, f); ++i) {
      in_base.insert(ElementKey(base, f, i));
    }
    for (int i = 0; i < FieldSize(ours, f); ++i) {
      in_ours.insert(ElementKey(ours, f, i));
    }
    // key -> (source message, index): sorted, deduplicated.
    absl::btree_map<std::string, std::pair<const Message*, int>> result;
    for (int i = 0; i < FieldSize(theirs, f); ++i) {
      std::string key = ElementKey(theirs, f, i);
      in_theirs.insert(key);
      if (in_base.contains(key) && !in_ours.contains(key)) continue;
      result.try_emplace(std::move(key), &theirs, i);
    }
    for (int i = 0; i < FieldSize(ours, f); ++i) {
      std::string key = ElementKey(ours, f, i);
      if (in_base.contains(key) || in_theirs.contains(key)) continue;
      result.try_emplace(std::move(key), &ours, i);
    }
    out->GetReflection()->ClearField(out, f);
    for (const auto& [key, source] : result) {
      AddElementFrom(*source.first, f, source.second, out);
    }
  }

  absl::Status MergeKeyedList(const Message& base, const Message& theirs,
                              const Message& ours, Message* out,
                              const FieldDescriptor* f, std::string* path,
                              int depth) {
    const FieldDescriptor* key = KeyFieldOf(f);
    const bool theirs_unchanged = FieldEqual(base, theirs, f);
    if (theirs_unchanged && !HasOpenConflictUnder(*path)) {
      // Only ours changed the list: take it whole, stamp what it changed.
      RETURN_IF_ERROR(StampChanges(base, ours, f, path, depth));
      CopyField(ours, out, f);
      return absl::OkStatus();
    }
    absl::flat_hash_map<std::string, const Message*> b, t, o;
    std::vector<std::string> our_order;
    RETURN_IF_ERROR(IndexList(base, f, key, *path, &b, nullptr));
    RETURN_IF_ERROR(IndexList(theirs, f, key, *path, &t, nullptr));
    RETURN_IF_ERROR(IndexList(ours, f, key, *path, &o, &our_order));

    // Ours' order when only ours changed the list and every id missing from
    // ours is removed, else canonical order by id (an element ours removed
    // but an open conflict keeps has no place in ours' order).
    std::vector<std::string> ids = our_order;
    bool canonical_order = !theirs_unchanged;
    {
      absl::flat_hash_set<std::string> seen(ids.begin(), ids.end());
      for (const auto* m : {&t, &b}) {
        for (const auto& [id, elem] : *m) {
          if (!seen.insert(id).second) continue;
          ids.push_back(id);
          if (!canonical_order && t.contains(id)) {
            PathPart part(path, PathPart::Element{}, id);
            canonical_order = HasOpenConflictAt(*path);
          }
        }
      }
    }
    if (canonical_order) std::sort(ids.begin(), ids.end());

    std::vector<std::unique_ptr<Message>> result;
    const Message& empty =
        *ours.GetReflection()->GetMessageFactory()->GetPrototype(
            f->message_type());
    for (const std::string& id : ids) {
      auto find = [&id](const auto& map) -> const Message* {
        auto it = map.find(id);
        return it == map.end() ? nullptr : it->second;
      };
      const Message* eb = find(b);
      const Message* et = find(t);
      const Message* eo = find(o);
      PathPart part(path, PathPart::Element{}, id);
      auto keep = [&result](const Message& m) {
        result.emplace_back(m.New())->CopyFrom(m);
      };
      if (et != nullptr && eo != nullptr) {
        const Message& eb_or_empty = eb != nullptr ? *eb : empty;
        if (MessagesEqual(eb_or_empty, *eo)) {
          keep(*et);
        } else {
          std::unique_ptr<Message> merged(et->New());
          merged->CopyFrom(*et);
          RETURN_IF_ERROR(MergeMessage(eb_or_empty, *et, *eo, merged.get(),
                                       path, depth + 1));
          result.push_back(std::move(merged));
        }
      } else if (et != nullptr) {  // ours removed it, or never had it
        if (eb == nullptr) {
          keep(*et);
        } else if (MessagesEqual(*eb, *et) && !HasOpenConflictAt(*path)) {
          SetStampSubtree(*path, in_.ours_edit);  // removed
          continue;
        } else {
          // Removed by ours, edited by theirs, or with conflicts open on it
          // (which only naming them settles): the element is kept.
          CompeteDeleteEdit(*path, ElementValue(base, f, *eb),
                            AbsentValue(base), in_.ours_edit);
          keep(*et);
        }
      } else if (eo != nullptr) {  // theirs removed it, or never had it
        if (eb == nullptr) {
          SetStampSubtree(*path, in_.ours_edit);
          keep(*eo);
        } else if (MessagesEqual(*eb, *eo)) {
          continue;  // removed by theirs, untouched by ours: stays removed
        } else {
          CompeteDeleteEdit(*path, ElementValue(base, f, *eb),
                            AbsentValue(base), TheirStamp(*path));
          SetStampSubtree(*path, in_.ours_edit);
          keep(*eo);
        }
      } else {
        // Removed by both: the removal is stamped by the later of the two,
        // whichever arrived first.
        SetStampSubtree(*path, Later(TheirStamp(*path), in_.ours_edit));
        continue;
      }
      RETURN_IF_ERROR(
          RefreshKeptElement(*path, base, f, *result.back(), depth));
    }
    const Reflection* r = out->GetReflection();
    r->ClearField(out, f);
    for (auto& elem : result) r->AddAllocatedMessage(out, f, elem.release());
    return absl::OkStatus();
  }

  // Records ours as the writer of every path where `ours` differs from
  // `base` (the paths a merge would stamp), and checks ours' keyed lists.
  absl::Status StampChanges(const Message& base, const Message& ours,
                            std::string* path, int depth) {
    return ForEachChange(base, ours, path, depth, StampVisitor{this});
  }
  absl::Status StampChanges(const Message& base, const Message& ours,
                            const FieldDescriptor* f, std::string* path,
                            int depth) {
    return ForEachChange(base, ours, f, path, depth, StampVisitor{this});
  }

  // Stamps each changed path with ours.
  struct StampVisitor {
    Merger* merger;
    void operator()(const std::string& changed, bool subtree) const {
      if (subtree) {
        merger->SetStampSubtree(changed, merger->in_.ours_edit);
      } else {
        merger->EndTextMerges(changed, false);
        merger->SetStamp(changed, merger->in_.ours_edit);
      }
    }
  };

  // Calls visit(path, subtree) for every path where `b` differs from `a` at
  // the granularity of field stamps: a register or text field (subtree
  // false), or a value written whole (sub-message cleared, oneof case
  // changed, keyed-list element added or removed: subtree true). Sets have
  // no stamps and are skipped. Checks `b`'s keyed lists.
  template <typename Visit>
  absl::Status ForEachChange(const Message& a, const Message& b,
                             std::string* path, int depth, Visit&& visit) {
    if (depth > kMaxDepth) {
      return absl::InvalidArgumentError(absl::StrCat(
          "message nested deeper than ", kMaxDepth, " at ", *path));
    }
    const Descriptor* type = b.GetDescriptor();
    const Reflection* ra = a.GetReflection();
    const Reflection* rb = b.GetReflection();
    for (int i = 0; i < type->field_count(); ++i) {
      const FieldDescriptor* f = type->field(i);
      if (f->real_containing_oneof() != nullptr) continue;
      if (FieldEqual(a, ra, b, rb, f)) continue;
      PathPart part(path, f->name());
      RETURN_IF_ERROR(ForEachChange(a, b, f, path, depth, visit));
    }
    for (int i = 0; i < type->real_oneof_decl_count(); ++i) {
      const OneofDescriptor* oneof = type->oneof_decl(i);
      const FieldDescriptor* fa = ra->GetOneofFieldDescriptor(a, oneof);
      const FieldDescriptor* fb = rb->GetOneofFieldDescriptor(b, oneof);
      if (fa == fb && (fb == nullptr || FieldEqual(a, ra, b, rb, fb))) {
        continue;
      }
      if (fb != nullptr && fb == fa) {
        PathPart part(path, fb->name());
        RETURN_IF_ERROR(ForEachChange(a, b, fb, path, depth, visit));
      } else {
        PathPart part(path, oneof->name());
        visit(*path, true);
      }
    }
    return absl::OkStatus();
  }

  // The same for one field `f` that differs between `a` and `b`.
  template <typename Visit>
  absl::Status ForEachChange(const Message& a, const Message& b,
                             const FieldDescriptor* f, std::string* path,
                             int depth, Visit&& visit) {
    switch (PolicyOf(f)) {
      case FieldPolicy::kSet:
        return absl::OkStatus();  // sets never conflict: no stamps
      case FieldPolicy::kRegister:
      case FieldPolicy::kText:
        visit(*path, false);
        return absl::OkStatus();
      case FieldPolicy::kRecurse:
        if (!b.GetReflection()->HasField(b, f)) {
          visit(*path, true);
          return absl::OkStatus();
        }
        return ForEachChange(a.GetReflection()->GetMessage(a, f),
                             b.GetReflection()->GetMessage(b, f), path,
                             depth + 1, visit);
      case FieldPolicy::kKeyedList: {
        const FieldDescriptor* key = KeyFieldOf(f);
        absl::flat_hash_map<std::string, const Message*> ea, eb;
        std::vector<std::string> b_order;
        RETURN_IF_ERROR(IndexList(a, f, key, *path, &ea, nullptr));
        RETURN_IF_ERROR(IndexList(b, f, key, *path, &eb, &b_order));
        for (const std::string& id : b_order) {
          const Message* elem = eb.at(id);
          auto it = ea.find(id);
          PathPart part(path, PathPart::Element{}, id);
          if (it == ea.end()) {
            visit(*path, true);  // added
          } else if (!MessagesEqual(*it->second, *elem)) {
            RETURN_IF_ERROR(
                ForEachChange(*it->second, *elem, path, depth + 1, visit));
          }
        }
        for (const auto& [id, elem] : ea) {
          if (eb.contains(id)) continue;
          PathPart part(path, PathPart::Element{}, id);
          visit(*path, true);  // removed
        }
        return absl::OkStatus();
      }
    }
    return absl::OkStatus();
  }

  // A conflict is open at `path` or below it.
  bool HasOpenConflictAt(const std::string& path) const {
    return by_path_.contains(path) || HasOpenConflictUnder(path);
  }

  bool HasOpenConflictUnder(const std::string& path) const {
    for (const auto& [open_path, index] : by_path_) {
      if (IsUnder(open_path, path)) return true;
    }
    return false;
  }

  // `path` names a field or element inside `outer`.
  static bool IsUnder(std::string_view path, std::string_view outer) {
    return path.size() > outer.size() &&
           path.substr(0, outer.size()) == outer &&
           (path[outer.size()] == '.' || path[outer.size()] == '[');
  }

  absl::Status MergeOneof(const Message& base, const Message& theirs,
                          const Message& ours, Message* out,
                          const OneofDescriptor* oneof, std::string* path,
                          int depth) {
    const FieldDescriptor* fb =
        base.GetReflection()->GetOneofFieldDescriptor(base, oneof);
    const FieldDescriptor* ft =
        theirs.GetReflection()->GetOneofFieldDescriptor(theirs, oneof);
    const FieldDescriptor* fo =
        ours.GetReflection()->GetOneofFieldDescriptor(ours, oneof);
    if (fo == fb && (fo == nullptr || FieldEqual(base, ours, fo))) {
      return absl::OkStatus();  // ours did not touch it
    }
    if (ft == fo && (fo == nullptr || FieldEqual(theirs, ours, fo))) {
      return absl::OkStatus();  // both made the same change
    }
    if (fo != nullptr && ft == fo) {  // same case on both sides: merge it
      PathPart part(path, fo->name());
      if (fb == fo) {
        return MergeChangedField(base, theirs, ours, out, fo, path, depth);
      }
      std::unique_ptr<Message> empty(base.New());
      return MergeChangedField(*empty, theirs, ours, out, fo, path, depth);
    }
    PathPart part(path, oneof->name());
    const bool theirs_unchanged =
        ft == fb && (ft == nullptr || FieldEqual(base, theirs, ft));
    const bool open = by_path_.contains(*path);
    bool take_ours = theirs_unchanged && !open;
    if (!take_ours) {
      const EditStamp* winner =
          Compete(*path, vigil::v1::CONFLICT_KIND_FIELD,
                  OneofValue(base, oneof), OneofValue(theirs, oneof),
                  TheirStamp(*path), OneofValue(ours, oneof));
      take_ours = winner->mutation_id() == in_.ours_edit.mutation_id();
    }
    if (take_ours) {
      out->GetReflection()->ClearOneof(out, oneof);
      if (fo != nullptr) CopyField(ours, out, fo);
      SetStampSubtree(*path, in_.ours_edit);
    }
    return absl::OkStatus();
  }

  void MergeUnknownFields(const Message& base, const Message& theirs,
                          const Message& ours, Message* out,
                          const std::string& path) {
    const UnknownFieldSet& ub = base.GetReflection()->GetUnknownFields(base);
    const UnknownFieldSet& uo = ours.GetReflection()->GetUnknownFields(ours);
    if (ub.empty() && uo.empty()) return;
    const UnknownFieldSet& ut =
        theirs.GetReflection()->GetUnknownFields(theirs);
    std::string sb, st, so;
    ub.SerializeToString(&sb);
    ut.SerializeToString(&st);
    uo.SerializeToString(&so);
    if (so == sb || so == st) return;
    UnknownFieldSet* dst = out->GetReflection()->MutableUnknownFields(out);
    if (st == sb) {
      dst->Clear();
      dst->MergeFrom(uo);
      return;
    }
    // Both changed fields this server cannot interpret: keep the union and
    // record both sets.
    absl::flat_hash_set<std::string> present;
    for (int i = 0; i < ut.field_count(); ++i) {
      present.insert(SerializeUnknownField(ut.field(i)));
    }
    for (int i = 0; i < uo.field_count(); ++i) {
      if (!present.contains(SerializeUnknownField(uo.field(i)))) {
        dst->AddField(uo.field(i));
      }
    }
    std::string unknown_path =
        path.empty() ? "(unknown)" : absl::StrCat(path, ".(unknown)");
    Compete(unknown_path, vigil::v1::CONFLICT_KIND_UNKNOWN_FIELDS,
            UnknownValue(base), UnknownValue(theirs), TheirStamp(unknown_path),
            UnknownValue(ours));
  }

  // Adds theirs' and ours' values to the conflict at `path` (opening it if
  // needed) and returns the winning edit (pointer into the conflict).
  const EditStamp* Compete(const std::string& path, ConflictKind kind,
                           FieldValue base_value, FieldValue their_value,
                           const EditStamp& their_edit, FieldValue our_value) {
    Conflict& c = OpenConflict(path, kind, std::move(base_value));
    AddVersion(&c, std::move(their_value), their_edit);
    AddVersion(&c, std::move(our_value), in_.ours_edit);
    const EditStamp* winner = &c.versions(c.versions_size() - 1).edit();
    c.set_winner_mutation_id(winner->mutation_id());
    return winner;
  }

  // A keyed-list element deleted by one edit and changed by another: the
  // changed element is kept whatever the clocks say. Records the removal;
  // RefreshKeptElement records the kept element.
  void CompeteDeleteEdit(const std::string& path, FieldValue base_value,
                         FieldValue deleted, const EditStamp& deleter) {
    Conflict& c =
        OpenConflict(path, vigil::v1::CONFLICT_KIND_ELEMENT_DELETE_EDIT,
                     std::move(base_value));
    AddVersion(&c, std::move(deleted), deleter);
  }

  bool HasDeleteEdit(const std::string& path) const {
    auto it = by_path_.find(path);
    return it != by_path_.end() &&
           conflicts_[it->second].kind() ==
               vigil::v1::CONFLICT_KIND_ELEMENT_DELETE_EDIT;
  }

  // While a delete-vs-edit conflict is open on a keyed-list element, its
  // kept version is the element as the head holds it, under the latest edit
  // that changed it: the latest writer (by the field stamps) of what
  // differs in it from the conflict's base, or a version of a conflict open
  // inside it; if none (the element is back to its base), the previous
  // one. Edits that reached the element before the removal arrived and
  // those that reach it after are so recorded alike, and the conflict does
  // not depend on the order in which concurrent edits arrive. (Edits merged
  // into the element cleanly cannot be told apart afterwards, so one version
  // holds them all; what they disagree on is open as conflicts at the
  // element's own fields.)
  absl::Status RefreshKeptElement(const std::string& path,
                                  const Message& parent,
                                  const FieldDescriptor* f, const Message& kept,
                                  int depth) {
    if (!HasDeleteEdit(path)) return absl::OkStatus();
    const size_t index = by_path_.at(path);
    std::optional<EditStamp> editor;
    RETURN_IF_ERROR(LatestChangeSinceBase(conflicts_[index], parent, f, kept,
                                          depth, &editor));
    Conflict& c = conflicts_[index];
    const ConflictVersion* previous = nullptr;
    int present = 0;
    for (const ConflictVersion& v : c.versions()) {
      if (v.value().present()) {
        previous = &v;
        ++present;
      }
    }
    if (!editor.has_value()) {
      editor = previous != nullptr ? previous->edit() : LatestStampUnder(path);
    }
    FieldValue value = ElementValue(parent, f, kept);
    if (present == 1 && SameValue(previous->value(), value) &&
        previous->edit().mutation_id() == editor->mutation_id()) {
      return absl::OkStatus();
    }
    auto* versions = c.mutable_versions();
    versions->erase(std::remove_if(versions->begin(), versions->end(),
                                   [](const ConflictVersion& v) {
                                     return v.value().present();
                                   }),
                    versions->end());
    AddVersion(&c, std::move(value), *editor);
    c.set_winner_mutation_id(editor->mutation_id());
    touched_.insert(path);
    return absl::OkStatus();
  }

  // The latest of: the writers (by the field stamps) of what differs in
  // `kept` from the element at the base of delete-vs-edit conflict `c`, and
  // the versions of the conflicts open inside the element. Unset if none.
  absl::Status LatestChangeSinceBase(const Conflict& c, const Message& parent,
                                     const FieldDescriptor* f,
                                     const Message& kept, int depth,
                                     std::optional<EditStamp>* latest) {
    auto consider = [latest](const EditStamp& e) {
      if (!latest->has_value() || EditBefore(**latest, e)) *latest = e;
    };
    for (const Conflict& inner : conflicts_) {
      if (IsUnder(inner.field_path(), c.field_path())) {
        for (const ConflictVersion& v : inner.versions()) consider(v.edit());
      }
    }
    std::unique_ptr<Message> carrier(parent.New());
    const Message* base_elem =
        kept.GetReflection()->GetMessageFactory()->GetPrototype(
            kept.GetDescriptor());
    if (c.base().present() && carrier->ParseFromString(c.base().carrier()) &&
        FieldSize(*carrier, f) == 1) {
      base_elem = &carrier->GetReflection()->GetRepeatedMessage(*carrier, f, 0);
    }
    std::string walk_path = c.field_path();
    return ForEachChange(
        *base_elem, kept, &walk_path, depth + 1,
        [&](const std::string& changed, bool subtree) {
          consider(subtree ? LatestStampUnder(changed) : TheirStamp(changed));
        });
  }

  Conflict& OpenConflict(const std::string& path, ConflictKind kind,
                         FieldValue base_value) {
    touched_.insert(path);
    auto it = by_path_.find(path);
    if (it != by_path_.end()) return conflicts_[it->second];
    by_path_[path] = conflicts_.size();
    Conflict& c = conflicts_.emplace_back();
    c.set_record_id(in_.record_id);
    c.set_field_path(path);
    c.set_kind(kind);
    *c.mutable_base() = std::move(base_value);
    return c;
  }

  // Inserts a version in (hlc, device, mutation) order. A value already
  // present stays once, under the later edit.
  static void AddVersion(Conflict* c, FieldValue value, const EditStamp& edit) {
    AddConflictVersion(c, std::move(value), edit);
  }

  EditStamp TheirStamp(const std::string& path) const {
    std::string_view p = path;
    while (true) {
      auto it = stamps_.find(p);
      if (it != stamps_.end()) return it->second;
      size_t cut = p.find_last_of(".[");
      if (cut == std::string_view::npos) return in_.theirs_default_edit;
      p = p.substr(0, cut);
    }
  }

  // The last edit that wrote `path` or anything below it.
  EditStamp LatestStampUnder(const std::string& path) const {
    EditStamp latest = TheirStamp(path);
    for (const char sep : {'.', '['}) {
      const std::string prefix = path + sep;
      for (auto it = stamps_.lower_bound(prefix);
           it != stamps_.end() &&
           std::string_view(it->first).substr(0, prefix.size()) == prefix;
           ++it) {
        if (EditBefore(latest, it->second)) latest = it->second;
      }
    }
    return latest;
  }

  void SetStamp(const std::string& path, const EditStamp& edit) {
    stamps_[path] = edit;
  }

  // Ours wrote the whole value at `path`: earlier stamps below it are void.
  void SetStampSubtree(const std::string& path, const EditStamp& edit) {
    EndTextMerges(path, true);
    for (const char sep : {'.', '['}) {
      std::string prefix = path + sep;
      auto it = stamps_.lower_bound(prefix);
      while (it != stamps_.end() &&
             std::string_view(it->first).substr(0, prefix.size()) == prefix) {
        it = stamps_.erase(it);
      }
    }
    stamps_[path] = edit;
  }

  absl::Status IndexList(const Message& m, const FieldDescriptor* f,
                         const FieldDescriptor* key, const std::string& path,
                         absl::flat_hash_map<std::string, const Message*>* out,
                         std::vector<std::string>* order) {
    const Reflection* r = m.GetReflection();
    const int n = r->FieldSize(m, f);
    out->reserve(n);
    for (int i = 0; i < n; ++i) {
      const Message& elem = r->GetRepeatedMessage(m, f, i);
      std::string id = elem.GetReflection()->GetString(elem, key);
      if (id.empty()) {
        return absl::InvalidArgumentError(
            absl::StrCat(path, ": element ", i, " has no id"));
      }
      if (!out->try_emplace(id, &elem).second) {
        return absl::InvalidArgumentError(
            absl::StrCat(path, ": duplicate element id ", id));
      }
      if (order != nullptr) order->push_back(std::move(id));
    }
    return absl::OkStatus();
  }

  static FieldValue ValueOf(const Message& parent, const FieldDescriptor* f) {
    FieldValue v;
    v.set_present(FieldPresent(parent, f));
    std::unique_ptr<Message> carrier(parent.New());
    CopyField(parent, carrier.get(), f);
    v.set_carrier(SerializeDeterministic(*carrier));
    v.set_carrier_type(parent.GetDescriptor()->full_name());
    return v;
  }

  static FieldValue OneofValue(const Message& parent,
                               const OneofDescriptor* oneof) {
    const FieldDescriptor* f =
        parent.GetReflection()->GetOneofFieldDescriptor(parent, oneof);
    if (f != nullptr) return ValueOf(parent, f);
    return AbsentValue(parent);
  }

  static FieldValue ElementValue(const Message& parent,
                                 const FieldDescriptor* f,
                                 const Message& elem) {
    FieldValue v;
    v.set_present(true);
    std::unique_ptr<Message> carrier(parent.New());
    carrier->GetReflection()->AddMessage(carrier.get(), f)->CopyFrom(elem);
    v.set_carrier(SerializeDeterministic(*carrier));
    v.set_carrier_type(parent.GetDescriptor()->full_name());
    return v;
  }

  static FieldValue AbsentValue(const Message& parent) {
    FieldValue v;
    v.set_present(false);
    v.set_carrier_type(parent.GetDescriptor()->full_name());
    return v;
  }

  static FieldValue UnknownValue(const Message& parent) {
    const UnknownFieldSet& u = parent.GetReflection()->GetUnknownFields(parent);
    FieldValue v;
    v.set_present(!u.empty());
    std::unique_ptr<Message> carrier(parent.New());
    carrier->GetReflection()->MutableUnknownFields(carrier.get())->MergeFrom(u);
    v.set_carrier(SerializeDeterministic(*carrier));
    v.set_carrier_type(parent.GetDescriptor()->full_name());
    return v;
  }

  static std::string SerializeUnknownField(
      const google::protobuf::UnknownField& field) {
    UnknownFieldSet one;
    one.AddField(field);
    std::string s;
    one.SerializeToString(&s);
    return s;
  }

  const MergeInput& in_;
  absl::btree_map<std::string, EditStamp, std::less<>> stamps_;
  std::vector<Conflict> conflicts_;
  absl::flat_hash_map<std::string, size_t> by_path_;
  absl::flat_hash_set<std::string> touched_;
  // Clean merges of concurrent narrative edits, by path.
  absl::btree_map<std::string, Conflict, std::less<>> text_merges_;
};

}  // namespace

void AddConflictVersion(Conflict* c, FieldValue value, const EditStamp& edit) {
  auto sort_versions = [c] {
    std::stable_sort(c->mutable_versions()->begin(),
                     c->mutable_versions()->end(),
                     [](const ConflictVersion& a, const ConflictVersion& b) {
                       return EditBefore(a.edit(), b.edit());
                     });
  };
  for (const ConflictVersion& v : c->versions()) {
    // The edit is already a version (the head shows a value derived from it,
    // e.g. a merged narrative): its own value stays the record of it, and
    // no other version is moved under it.
    if (v.edit().mutation_id() == edit.mutation_id()) return;
  }
  for (ConflictVersion& v : *c->mutable_versions()) {
    if (SameValue(v.value(), value)) {
      if (EditBefore(v.edit(), edit)) *v.mutable_edit() = edit;
      sort_versions();
      return;
    }
  }
  ConflictVersion* v = c->add_versions();
  *v->mutable_value() = std::move(value);
  *v->mutable_edit() = edit;
  sort_versions();
}

bool EditBefore(const EditStamp& a, const EditStamp& b) {
  return std::forward_as_tuple(a.hlc().wall_time_micros(), a.hlc().logical(),
                               a.device_id(), a.mutation_id()) <
         std::forward_as_tuple(b.hlc().wall_time_micros(), b.hlc().logical(),
                               b.device_id(), b.mutation_id());
}

std::string ConflictId(const Conflict& conflict) {
  std::vector<std::string_view> mutations;
  for (const ConflictVersion& v : conflict.versions()) {
    mutations.push_back(v.edit().mutation_id());
  }
  std::sort(mutations.begin(), mutations.end());
  StableHasher h;
  h.Add(conflict.record_id());
  h.Add(conflict.field_path());
  h.Add(absl::StrCat(static_cast<int>(conflict.kind())));
  for (std::string_view m : mutations) h.Add(m);
  return absl::StrCat("cf-", h.HexDigest());
}

std::string SerializeDeterministic(const Message& message) {
  return DeterministicBytes(message);
}

absl::StatusOr<MergeResult> ThreeWayMerge(const MergeInput& input) {
  if (input.theirs == nullptr || input.ours == nullptr) {
    return absl::InvalidArgumentError("merge needs theirs and ours");
  }
  const Descriptor* type = input.theirs->GetDescriptor();
  if (input.ours->GetDescriptor() != type ||
      (input.base != nullptr && input.base->GetDescriptor() != type)) {
    return absl::InvalidArgumentError(
        absl::StrCat("merge of different types: theirs is ", type->full_name(),
                     ", ours is ", input.ours->GetDescriptor()->full_name()));
  }
  RETURN_IF_ERROR(ValidateOnce(type));
  const Message& base =
      input.base != nullptr
          ? *input.base
          : *input.theirs->GetReflection()->GetMessageFactory()->GetPrototype(
                type);
  MergeResult result;
  Merger merger(input);
  RETURN_IF_ERROR(merger.Run(base, &result));
  return result;
}

}  // namespace vigil::sync
