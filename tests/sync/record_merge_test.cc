#include "sync/record_merge.h"

#include <algorithm>
#include <limits>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/sync/test_util.h"
#include "tests/testing/status_matchers.h"

namespace vigil::sync {
namespace {

using ::testing::IsEmpty;
using ::testing::SizeIs;
using ::vigil::sync::testing::Parse;
using ::vigil::testing::StatusIs;
using vigil::v1::Mutation;
using vigil::v1::Record;
using vigil::v1::RecordBody;

const absl::Time kNow = absl::FromUnixSeconds(1'800'000'000);

Mutation Edit(const std::string& id, uint64_t base_revision,
              const std::string& body, int64_t hlc,
              const std::string& device = "dev-a") {
  Mutation m;
  m.set_mutation_id(id);
  m.set_record_id("rec-1");
  m.set_base_revision(base_revision);
  *m.mutable_body() = Parse<RecordBody>(body);
  m.set_author("user-" + device);
  m.set_device_id(device);
  m.mutable_hlc()->set_wall_time_micros(hlc);
  m.set_scope("visits/v1");
  return m;
}

Mutation Delete(const std::string& id, uint64_t base_revision, int64_t hlc) {
  Mutation m;
  m.set_mutation_id(id);
  m.set_record_id("rec-1");
  m.set_base_revision(base_revision);
  m.set_delete_(true);
  m.set_device_id("dev-d");
  m.mutable_hlc()->set_wall_time_micros(hlc);
  return m;
}

// A record history: revision r is history[r - 1].
class History {
 public:
  // `chained_base`: the base of a chained mutation (ChainedBase), instead of
  // its base revision.
  absl::StatusOr<ApplyOutcome> Apply(const Mutation& m,
                                     const Record* chained_base = nullptr) {
    const Record* head = revisions_.empty() ? nullptr : &revisions_.back();
    const Record* base =
        chained_base != nullptr ? chained_base
        : m.base_revision() >= 1 && m.base_revision() <= revisions_.size()
            ? &revisions_[m.base_revision() - 1]
            : nullptr;
    auto outcome = ApplyMutation(head, base, m, kNow);
    if (outcome.ok() && outcome->changed) revisions_.push_back(outcome->record);
    return outcome;
  }
  const Record& head() const { return revisions_.back(); }

 private:
  std::vector<Record> revisions_;
};

TEST(RecordMergeTest, CreateMakesRevisionOne) {
  History h;
  auto out = h.Apply(Edit("m1", 0, "finding { title: \"t\" }", 10));
  ASSERT_OK(out);
  EXPECT_TRUE(out->clean);
  EXPECT_EQ(h.head().revision(), 1u);
  EXPECT_EQ(h.head().scope(), "visits/v1");
  EXPECT_EQ(h.head().created().mutation_id(), "m1");
  EXPECT_EQ(h.head().updated().mutation_id(), "m1");
  EXPECT_EQ(h.head().updated_at().seconds(), 1'800'000'000);
  EXPECT_EQ(h.head().body().finding().title(), "t");
}

TEST(RecordMergeTest, EditOnHeadIsTakenAsIs) {
  History h;
  ASSERT_OK(h.Apply(Edit("m1", 0, "finding { title: \"t\" tags: \"a\" }", 10)));
  auto out = h.Apply(Edit("m2", 1, "finding { title: \"u\" }", 20));
  ASSERT_OK(out);
  EXPECT_TRUE(out->clean);
  EXPECT_EQ(h.head().revision(), 2u);
  EXPECT_EQ(h.head().body().SerializeAsString(),
            Parse<RecordBody>("finding { title: \"u\" }").SerializeAsString());
}

TEST(RecordMergeTest, StaleEditMergesThreeWays) {
  History h;
  ASSERT_OK(h.Apply(Edit("m1", 0, "finding { title: \"t\" }", 10)));
  ASSERT_OK(
      h.Apply(Edit("m2", 1, "finding { title: \"t\" location: \"A\" }", 20)));
  auto out = h.Apply(
      Edit("m3", 1, "finding { title: \"t\" severity: SEVERITY_HIGH }", 15));
  ASSERT_OK(out);
  EXPECT_TRUE(out->clean);
  EXPECT_EQ(h.head().body().finding().location(), "A");
  EXPECT_EQ(h.head().body().finding().severity(), vigil::v1::SEVERITY_HIGH);
}

TEST(RecordMergeTest, FieldConflictIsStoredOnTheRecordAndResolved) {
  History h;
  ASSERT_OK(h.Apply(Edit("m1", 0, "finding { title: \"t\" }", 10)));
  ASSERT_OK(h.Apply(Edit("m2", 1, "finding { title: \"A\" }", 20, "dev-a")));
  auto out = h.Apply(Edit("m3", 1, "finding { title: \"B\" }", 30, "dev-b"));
  ASSERT_OK(out);
  EXPECT_FALSE(out->clean);
  ASSERT_THAT(h.head().open_conflicts(), SizeIs(1));
  const std::string conflict_id = h.head().open_conflicts(0).id();
  EXPECT_EQ(out->conflict_ids, std::vector<std::string>{conflict_id});
  EXPECT_EQ(h.head().body().finding().title(), "B");
  // The author of "A" is m2's, from the field stamps.
  EXPECT_EQ(h.head().open_conflicts(0).versions(0).edit().mutation_id(), "m2");

  // Unknown id: NotFound. Stale base: FailedPrecondition.
  Mutation unknown = Edit("m4", 3, "finding { title: \"A\" }", 40);
  unknown.add_resolves_conflict_ids("cf-nope");
  EXPECT_THAT(h.Apply(unknown), StatusIs(absl::StatusCode::kNotFound));
  Mutation stale = Edit("m4", 2, "finding { title: \"A\" }", 40);
  stale.add_resolves_conflict_ids(conflict_id);
  EXPECT_THAT(h.Apply(stale), StatusIs(absl::StatusCode::kFailedPrecondition));

  Mutation resolve = Edit("m4", 3, "finding { title: \"A and B\" }", 40);
  resolve.add_resolves_conflict_ids(conflict_id);
  out = h.Apply(resolve);
  ASSERT_OK(out);
  EXPECT_TRUE(out->clean);
  EXPECT_THAT(h.head().open_conflicts(), SizeIs(0));
  EXPECT_EQ(h.head().body().finding().title(), "A and B");
}

TEST(RecordMergeTest, CreateVsCreateOfOneIdMergesWithEmptyBase) {
  History h;
  ASSERT_OK(h.Apply(Edit("m1", 0, "finding { title: \"t\" tags: \"a\" }", 10)));
  auto out = h.Apply(
      Edit("m2", 0, "finding { location: \"L\" tags: \"b\" }", 20, "dev-b"));
  ASSERT_OK(out);
  EXPECT_TRUE(out->clean);
  EXPECT_EQ(h.head().body().finding().title(), "t");
  EXPECT_EQ(h.head().body().finding().location(), "L");
  EXPECT_THAT(h.head().body().finding().tags(), SizeIs(2));
}

TEST(RecordMergeTest, DeleteOnHeadDeletes) {
  History h;
  ASSERT_OK(h.Apply(Edit("m1", 0, "finding { title: \"t\" }", 10)));
  auto out = h.Apply(Delete("m2", 1, 20));
  ASSERT_OK(out);
  EXPECT_TRUE(out->clean);
  EXPECT_TRUE(h.head().deleted());
  // Deleting again by an earlier edit changes nothing; by a later one, the
  // tombstone names that deleter (the one an undelete records).
  out = h.Apply(Delete("m3", 1, 15));
  ASSERT_OK(out);
  EXPECT_FALSE(out->changed);
  EXPECT_EQ(h.head().revision(), 2u);
  out = h.Apply(Delete("m4", 1, 30));
  ASSERT_OK(out);
  EXPECT_TRUE(out->changed);
  EXPECT_TRUE(h.head().deleted());
  EXPECT_EQ(h.head().revision(), 3u);
  EXPECT_EQ(h.head().updated().mutation_id(), "m4");
}

TEST(RecordMergeTest, DeleteOnStaleBaseWithoutBodyChangesDeletes) {
  History h;
  ASSERT_OK(h.Apply(Edit("m1", 0, "finding { title: \"t\" }", 10)));
  ASSERT_OK(h.Apply(Edit("m2", 1, "finding { title: \"t\" }", 20)));
  ASSERT_OK(h.Apply(Delete("m3", 1, 30)));
  EXPECT_TRUE(h.head().deleted());
}

TEST(RecordMergeTest, DeleteOnStaleBaseNeverDeletesUnseenEdits) {
  History h;
  ASSERT_OK(h.Apply(Edit("m1", 0, "finding { title: \"t\" }", 10)));
  ASSERT_OK(h.Apply(Edit("m2", 1, "finding { title: \"edited\" }", 20)));
  auto out = h.Apply(Delete("m3", 1, 30));
  ASSERT_OK(out);
  EXPECT_FALSE(out->clean);
  EXPECT_FALSE(h.head().deleted());
  EXPECT_EQ(h.head().body().finding().title(), "edited");
  ASSERT_THAT(h.head().open_conflicts(), SizeIs(1));
  const auto& c = h.head().open_conflicts(0);
  EXPECT_EQ(c.kind(), vigil::v1::CONFLICT_KIND_DELETE_EDIT);
  EXPECT_EQ(c.field_path(), "");
  EXPECT_EQ(c.winner_mutation_id(), "m2");
  ASSERT_THAT(c.versions(), SizeIs(2));
  EXPECT_EQ(c.id(), out->conflict_ids[0]);
}

TEST(RecordMergeTest, EditOfDeletedRecordIsKeptAndFlagged) {
  History h;
  ASSERT_OK(h.Apply(Edit("m1", 0, "finding { title: \"t\" }", 10)));
  ASSERT_OK(h.Apply(Delete("m2", 1, 20)));
  auto out = h.Apply(Edit("m3", 1, "finding { title: \"late edit\" }", 15));
  ASSERT_OK(out);
  EXPECT_FALSE(out->clean);
  EXPECT_FALSE(h.head().deleted());
  EXPECT_EQ(h.head().body().finding().title(), "late edit");
  ASSERT_THAT(h.head().open_conflicts(), SizeIs(1));
  EXPECT_EQ(h.head().open_conflicts(0).kind(),
            vigil::v1::CONFLICT_KIND_DELETE_EDIT);
  EXPECT_EQ(h.head().open_conflicts(0).winner_mutation_id(), "m3");
}

TEST(RecordMergeTest, EditOnHeadOfAConflictedFieldJoinsTheConflict) {
  History h;
  ASSERT_OK(h.Apply(Edit("m1", 0, "finding { title: \"t\" }", 10)));
  ASSERT_OK(h.Apply(Edit("m2", 1, "finding { title: \"A\" }", 20, "dev-a")));
  ASSERT_OK(h.Apply(Edit("m3", 1, "finding { title: \"B\" }", 30, "dev-b")));
  const std::string first_id = h.head().open_conflicts(0).id();
  // Made on the head (it saw the conflict) but names no conflict: it joins
  // the conflict as one more version; the latest HLC shows.
  auto out = h.Apply(Edit("m4", 3, "finding { title: \"C\" }", 40, "dev-c"));
  ASSERT_OK(out);
  EXPECT_FALSE(out->clean);
  ASSERT_THAT(h.head().open_conflicts(), SizeIs(1));
  EXPECT_THAT(h.head().open_conflicts(0).versions(), SizeIs(3));
  EXPECT_NE(h.head().open_conflicts(0).id(), first_id);
  EXPECT_EQ(h.head().body().finding().title(), "C");
  // The old id no longer names an open conflict.
  Mutation stale_id = Edit("m5", 4, "finding { title: \"C\" }", 50);
  stale_id.add_resolves_conflict_ids(first_id);
  EXPECT_THAT(h.Apply(stale_id), StatusIs(absl::StatusCode::kNotFound));
}

TEST(RecordMergeTest, ADeleteCanResolveTheConflictItSettles) {
  History h;
  ASSERT_OK(h.Apply(Edit("m1", 0, "finding { title: \"t\" }", 10)));
  ASSERT_OK(h.Apply(Edit("m2", 1, "finding { title: \"edited\" }", 20)));
  ASSERT_OK(h.Apply(Delete("m3", 1, 30)));  // stale: conflict, not deleted
  ASSERT_THAT(h.head().open_conflicts(), SizeIs(1));
  Mutation confirm = Delete("m4", 3, 40);
  confirm.add_resolves_conflict_ids(h.head().open_conflicts(0).id());
  auto out = h.Apply(confirm);
  ASSERT_OK(out);
  EXPECT_TRUE(h.head().deleted());
  EXPECT_THAT(h.head().open_conflicts(), SizeIs(0));
}

TEST(RecordMergeTest, OfflineChainMergesAgainstTheBodyItEdited) {
  History h;
  ASSERT_OK(h.Apply(Edit("m1", 0, "finding { title: \"t\" }", 10)));
  ASSERT_OK(h.Apply(Edit("m2", 1, "finding { title: \"A\" }", 20, "dev-a")));
  // Device B's first edit, on revision 1, is merged into revision 3.
  const Mutation first =
      Edit("m3", 1, "finding { title: \"t\" location: \"L\" }", 30, "dev-b");
  ASSERT_OK(h.Apply(first));
  ASSERT_EQ(h.head().body().finding().title(), "A");
  // B edits on top of what it pushed, before seeing revision 3: the server
  // passes revision 3 with the body B pushed as the base.
  const Record base = ChainedBase(h.head(), first.body());
  auto out = h.Apply(
      Edit("m4", 3,
           "finding { title: \"t\" location: \"L\" severity: SEVERITY_HIGH }",
           40, "dev-b"),
      &base);
  ASSERT_OK(out);
  EXPECT_TRUE(out->clean);
  EXPECT_EQ(out->record.body().finding().title(), "A");  // not reverted
  EXPECT_EQ(out->record.body().finding().severity(), vigil::v1::SEVERITY_HIGH);
}

// The open conflicts after applying concurrent `edits` (all on revision 1 of
// `create`) in the order `order`, in deterministic serialization.
std::string ConflictsAfter(const Mutation& create,
                           const std::vector<Mutation>& edits,
                           const std::vector<size_t>& order,
                           std::string* body) {
  History h;
  EXPECT_OK(h.Apply(create));
  for (size_t i : order) EXPECT_OK(h.Apply(edits[i]));
  *body = h.head().body().SerializeAsString();
  std::string out;
  for (const auto& c : h.head().open_conflicts()) {
    out += c.ShortDebugString() + "\n";
  }
  return out;
}

// Every other order of `edits` after `order` (its first, sorted ascending)
// gives the conflicts `first` and the body `first_body` that order gave.
void ExpectSameInEveryOtherOrder(const Mutation& create, const std::vector<Mutation>& edits,
                                 std::vector<size_t> order, const std::string& first,
                                 const std::string& first_body) {
  while (std::next_permutation(order.begin(), order.end())) {
    std::string body;
    EXPECT_EQ(ConflictsAfter(create, edits, order, &body), first)
        << absl::StrJoin(order, "");
    EXPECT_EQ(body, first_body);
  }
}

// Every arrival order of the same concurrent edits gives one head and one set
// of open conflicts (issue 3's convergence law). Regression: the element
// delete-vs-edit conflict held the element as the head had it when the
// removal arrived, under whichever edit had last touched it.
TEST(RecordMergeTest, ElementRemovalConvergesInEveryOrder) {
  const Mutation create =
      Edit("m0", 0,
           "finding { sources { id: \"s1\" note: \"n\" } title: \"t\" }", 10);
  const std::vector<Mutation> edits = {
      Edit("m-note", 1,
           "finding { sources { id: \"s1\" note: \"N\" } title: \"t\" }", 30,
           "dev-a"),
      Edit("m-type", 1,
           "finding { sources { id: \"s1\" note: \"n\" type: "
           "SOURCE_TYPE_OBSERVATION "
           "} title: \"t\" }",
           20, "dev-b"),
      Edit("m-del", 1, "finding { title: \"t\" }", 40, "dev-c"),
      Edit("m-del2", 1, "finding { title: \"u\" }", 5, "dev-d"),
  };
  std::vector<size_t> order = {0, 1, 2, 3};
  std::string first_body;
  const std::string first = ConflictsAfter(create, edits, order, &first_body);
  ASSERT_NE(first.find("CONFLICT_KIND_ELEMENT_DELETE_EDIT"), std::string::npos)
      << first;
  // The element is kept whole, under the latest edit that changed it; the
  // removal is recorded once, under the later remover.
  EXPECT_NE(first.find("mutation_id: \"m-note\""), std::string::npos) << first;
  EXPECT_NE(first.find("mutation_id: \"m-del\""), std::string::npos) << first;
  EXPECT_EQ(first.find("mutation_id: \"m-type\""), std::string::npos) << first;
  EXPECT_EQ(first.find("mutation_id: \"m-del2\""), std::string::npos) << first;
  ExpectSameInEveryOtherOrder(create, edits, order, first, first_body);
}

// The head after applying `create` and then `edits` in the order `order`.
Record HeadAfter(const Mutation& create, const std::vector<Mutation>& edits,
                 const std::vector<size_t>& order) {
  History h;
  EXPECT_OK(h.Apply(create));
  for (size_t i : order) EXPECT_OK(h.Apply(edits[i]));
  return h.head();
}

// Whole-record deletes among concurrent edits: the record stays live with
// the edits merged, and one DELETE_EDIT conflict holds it under the latest
// edit that changed it and the delete under the latest deleter, whatever
// the arrival order (a delete first, then an edit, used to give another
// kind of conflict than the other way round).
TEST(RecordMergeTest, RecordDeleteAndEditsConvergeInEveryOrder) {
  const Mutation create =
      Edit("m0", 0, "finding { title: \"t\" location: \"block A\" }", 10);
  const std::vector<Mutation> edits = {
      Edit("m-title", 1, "finding { title: \"T\" location: \"block A\" }", 30, "dev-a"),
      Edit("m-where", 1, "finding { title: \"t\" location: \"block B\" }", 20, "dev-b"),
      Delete("m-del", 1, 40),
      Delete("m-del-early", 1, 5),
  };
  std::vector<size_t> order = {0, 1, 2, 3};
  const Record first = HeadAfter(create, edits, order);
  EXPECT_FALSE(first.deleted());
  EXPECT_EQ(first.body().finding().title(), "T");
  EXPECT_EQ(first.body().finding().location(), "block B");
  ASSERT_THAT(first.open_conflicts(), SizeIs(1));
  const auto& c = first.open_conflicts(0);
  EXPECT_EQ(c.kind(), vigil::v1::CONFLICT_KIND_DELETE_EDIT);
  EXPECT_EQ(c.winner_mutation_id(), "m-title");
  ASSERT_THAT(c.versions(), SizeIs(2));
  EXPECT_EQ(c.versions(0).edit().mutation_id(), "m-title");
  EXPECT_TRUE(c.versions(0).value().present());
  EXPECT_EQ(c.versions(1).edit().mutation_id(), "m-del");
  EXPECT_FALSE(c.versions(1).value().present());
  while (std::next_permutation(order.begin(), order.end())) {
    const Record head = HeadAfter(create, edits, order);
    const std::string label = absl::StrCat(order[0], order[1], order[2], order[3]);
    EXPECT_FALSE(head.deleted()) << label;
    EXPECT_EQ(head.body().SerializeAsString(), first.body().SerializeAsString()) << label;
    ASSERT_THAT(head.open_conflicts(), SizeIs(1)) << label;
    EXPECT_EQ(head.open_conflicts(0).SerializeAsString(), c.SerializeAsString()) << label;
  }
}

// An edit that changed nothing does not bring a concurrently deleted record
// back, in either order; a later edit of the tombstone's conflict-free
// record, once deleted, is a DELETE_EDIT conflict naming the delete.
TEST(RecordMergeTest, DeleteAndAnEditThatChangedNothingDeleteInEveryOrder) {
  const Mutation create = Edit("m0", 0, "finding { title: \"t\" }", 10);
  const std::vector<Mutation> edits = {
      Edit("m-same", 1, "finding { title: \"t\" }", 30),
      Delete("m-del", 1, 20),
  };
  for (const std::vector<size_t>& order :
       {std::vector<size_t>{0, 1}, std::vector<size_t>{1, 0}}) {
    const Record head = HeadAfter(create, edits, order);
    EXPECT_TRUE(head.deleted()) << order[0];
    EXPECT_THAT(head.open_conflicts(), SizeIs(0)) << order[0];
  }
}

// A device whose clock is behind what it pulled still edits after it: the
// edit is stamped just after the latest edit of the revision it was made on,
// so winners and the latest deleter follow what each edit saw.
TEST(RecordMergeTest, EditIsPlacedAfterTheRevisionItWasMadeOn) {
  History h;
  ASSERT_OK(h.Apply(Edit("m0", 0, "finding { title: \"t\" }", 100)));
  ASSERT_OK(h.Apply(Edit("m1", 1, "finding { title: \"u\" }", 50)));
  EXPECT_EQ(h.head().updated().hlc().wall_time_micros(), 100);
  EXPECT_EQ(h.head().updated().hlc().logical(), 1u);
  // Made on revision 2, whose latest edit is m1 at (100, 1).
  ASSERT_OK(h.Apply(Edit("m2", 2, "finding { title: \"v\" }", 7)));
  EXPECT_EQ(h.head().updated().hlc().wall_time_micros(), 100);
  EXPECT_EQ(h.head().updated().hlc().logical(), 2u);
  // A clock ahead of the revision is kept as it is.
  ASSERT_OK(h.Apply(Edit("m3", 3, "finding { title: \"w\" }", 500)));
  EXPECT_EQ(h.head().updated().hlc().wall_time_micros(), 500);
  EXPECT_EQ(h.head().updated().hlc().logical(), 0u);
}

// At the logical counter's maximum the next time moves the wall clock on:
// the edit still comes after the one it saw, never before it by wrapping.
TEST(RecordMergeTest, EditAfterTheLargestLogicalCounterDoesNotWrap) {
  History h;
  Mutation first = Edit("m0", 0, "finding { title: \"t\" }", 100);
  first.mutable_hlc()->set_logical(std::numeric_limits<std::uint32_t>::max());
  ASSERT_OK(h.Apply(first));
  ASSERT_OK(h.Apply(Edit("m1", 1, "finding { title: \"u\" }", 50)));
  EXPECT_EQ(h.head().updated().hlc().wall_time_micros(), 101);
  EXPECT_EQ(h.head().updated().hlc().logical(), 0u);
}

// While the delete-vs-edit conflict is open, its kept version follows the
// record's later edits.
TEST(RecordMergeTest, OpenDeleteEditConflictFollowsLaterEdits) {
  History h;
  ASSERT_OK(h.Apply(Edit("m0", 0, "finding { title: \"t\" }", 10)));
  ASSERT_OK(h.Apply(Edit("m1", 1, "finding { title: \"u\" }", 20)));
  ASSERT_OK(h.Apply(Delete("m2", 1, 30)));
  ASSERT_THAT(h.head().open_conflicts(), SizeIs(1));
  ASSERT_OK(h.Apply(Edit("m3", 3, "finding { title: \"v\" }", 40)));
  ASSERT_THAT(h.head().open_conflicts(), SizeIs(1));
  const auto& c = h.head().open_conflicts(0);
  ASSERT_THAT(c.versions(), SizeIs(2));
  EXPECT_EQ(c.winner_mutation_id(), "m3");
  vigil::v1::Finding kept;
  ASSERT_TRUE(kept.ParseFromString(c.versions(1).value().carrier()));
  EXPECT_EQ(kept.title(), "v");
  EXPECT_EQ(c.versions(0).edit().mutation_id(), "m2");
}

// Three edits that all overlap in the narrative: one text conflict holding
// each edit's own text, with hunks and head text from their n-way merge,
// whatever the order of arrival.
TEST(RecordMergeTest, OverlappingTextEditsConvergeInEveryOrder) {
  const Mutation create =
      Edit("m0", 0, R"(finding { narrative: "1\n2\n3\n4\n5\n" })", 10);
  const std::vector<Mutation> edits = {
      Edit("m-a", 1, R"(finding { narrative: "1\nA\n3\n4\nA5\n" })", 30, "a"),
      Edit("m-b", 1, R"(finding { narrative: "1\nB\nB\n4\n5\n" })", 20, "b"),
      Edit("m-c", 1, R"(finding { narrative: "C\nC\nC\n4\n5\n" })", 40, "c"),
  };
  std::vector<size_t> order = {0, 1, 2};
  std::string first_body;
  const std::string first = ConflictsAfter(create, edits, order, &first_body);
  RecordBody body;
  ASSERT_TRUE(body.ParseFromString(first_body));
  // Region lines 1-3: every edit changed it differently, m-c (latest) wins;
  // line 5: m-a only.
  EXPECT_EQ(body.finding().narrative(), "C\nC\nC\n4\nA5\n");
  // One hunk over base lines 1-3 (first line 0), naming all three edits.
  EXPECT_NE(first.find(R"(hunks { base_text: "1\n2\n3\n" versions { )"
                       R"(mutation_id: "m-b" text: "1\nB\nB\n" } versions { )"
                       R"(mutation_id: "m-a" text: "1\nA\n3\n" } versions { )"
                       R"(mutation_id: "m-c" text: "C\nC\nC\n" } })"),
            std::string::npos)
      << first;
  ExpectSameInEveryOtherOrder(create, edits, order, first, first_body);
}

// Two narrative edits that merge cleanly and a third that overlaps one of
// them: the text conflict holds each edit's own text in every arrival order
// (the record keeps the clean merge's own texts until an edit that saw it).
// Regression: arriving a, c, b, the conflict held a's and c's merge under
// one of them, and a's and c's own texts were gone.
TEST(RecordMergeTest, CleanTextMergeThenOverlapConvergesInEveryOrder) {
  const Mutation create =
      Edit("m0", 0, R"(finding { narrative: "1\n2\n3\n" })", 10);
  const std::vector<Mutation> edits = {
      Edit("m-a", 1, R"(finding { narrative: "a\n2\n3\n" })", 30, "a"),
      Edit("m-b", 1, R"(finding { narrative: "b\n2\n3\n" })", 40, "b"),
      Edit("m-c", 1, R"(finding { narrative: "1\n2\nc\n" })", 20, "c"),
  };
  std::vector<size_t> order = {0, 1, 2};
  std::string first_body;
  const std::string first = ConflictsAfter(create, edits, order, &first_body);
  RecordBody body;
  ASSERT_TRUE(body.ParseFromString(first_body));
  EXPECT_EQ(body.finding().narrative(), "b\n2\nc\n");
  // Every edit's own text is a version; the hunk names the two that overlap.
  EXPECT_NE(first.find(R"(mutation_id: "m-c")"), std::string::npos) << first;
  EXPECT_NE(first.find(R"(hunks { base_text: "1\n" versions { )"
                       R"(mutation_id: "m-a" text: "a\n" } versions { )"
                       R"(mutation_id: "m-b" text: "b\n" } })"),
            std::string::npos)
      << first;
  ExpectSameInEveryOtherOrder(create, edits, order, first, first_body);
}

// A clean merge of concurrent narrative edits is kept with their own texts
// until an edit that saw it changes the narrative; an edit that saw only
// one of them takes that one's place.
TEST(RecordMergeTest, TextMergeEndsWithAnEditThatSawIt) {
  History h;
  ASSERT_OK(h.Apply(Edit("m0", 0, R"(finding { narrative: "1\n2\n3\n" })", 10)));
  ASSERT_OK(h.Apply(Edit("m-a", 1, R"(finding { narrative: "a\n2\n3\n" })", 20)));
  ASSERT_OK(h.Apply(Edit("m-c", 1, R"(finding { narrative: "1\n2\nc\n" })", 30)));
  EXPECT_EQ(h.head().body().finding().narrative(), "a\n2\nc\n");
  ASSERT_THAT(h.head().text_merges(), SizeIs(1));
  EXPECT_EQ(h.head().text_merges(0).field_path(), "narrative");
  ASSERT_THAT(h.head().text_merges(0).versions(), SizeIs(2));
  EXPECT_THAT(h.head().open_conflicts(), IsEmpty());

  // Made on revision 2 (after m-a only): it saw m-a, not m-c, and takes
  // m-a's place beside m-c.
  ASSERT_OK(h.Apply(Edit("m-d", 2, R"(finding { narrative: "a\nd\n3\n" })", 40)));
  EXPECT_EQ(h.head().body().finding().narrative(), "a\nd\nc\n");
  ASSERT_THAT(h.head().text_merges(), SizeIs(1));
  ASSERT_THAT(h.head().text_merges(0).versions(), SizeIs(2));
  EXPECT_EQ(h.head().text_merges(0).versions(0).edit().mutation_id(), "m-c");
  EXPECT_EQ(h.head().text_merges(0).versions(1).edit().mutation_id(), "m-d");

  // An edit of another field keeps it; one of the narrative made on the
  // head ends it.
  ASSERT_OK(h.Apply(Edit("m-e", 4,
                         R"(finding { narrative: "a\nd\nc\n" title: "t" })", 50)));
  ASSERT_THAT(h.head().text_merges(), SizeIs(1));
  ASSERT_OK(h.Apply(Edit("m-f", 5,
                         R"(finding { narrative: "a\nd\nf\n" title: "t" })", 60)));
  EXPECT_THAT(h.head().text_merges(), IsEmpty());
  EXPECT_EQ(h.head().body().finding().narrative(), "a\nd\nf\n");

  // Made on revision 5 (which had the merge) but arriving after m-f: it
  // saw the merge, so it is an ordinary three-way merge with m-f.
  ASSERT_OK(h.Apply(Edit("m-g", 5,
                         R"(finding { narrative: "g\nd\nc\n" title: "t" })", 70)));
  EXPECT_EQ(h.head().body().finding().narrative(), "g\nd\nf\n");
  ASSERT_THAT(h.head().text_merges(), SizeIs(1));
  const auto& merge = h.head().text_merges(0);
  vigil::v1::Finding merge_base;
  ASSERT_TRUE(merge_base.ParseFromString(merge.base().carrier()));
  EXPECT_EQ(merge_base.narrative(), "a\nd\nc\n");
  ASSERT_THAT(merge.versions(), SizeIs(2));
  EXPECT_EQ(merge.versions(0).edit().mutation_id(), "m-f");
  EXPECT_EQ(merge.versions(1).edit().mutation_id(), "m-g");
  EXPECT_THAT(h.head().open_conflicts(), IsEmpty());
}

// An edit made before the text a clean merge started from (it saw neither
// the merged edits nor what came before them) is merged against the text it
// saw, as without a text merge: it must not undo what it never saw.
// Regression: it joined the merge and its old first line replaced X's.
TEST(RecordMergeTest, AnEditOlderThanATextMergeDoesNotUndoWhatItNeverSaw) {
  History h;
  ASSERT_OK(h.Apply(Edit("m0", 0, R"(finding { narrative: "A\nx\ny\nz\nw\n" })", 10)));
  ASSERT_OK(h.Apply(Edit("m-x", 1, R"(finding { narrative: "B\nx\ny\nz\nw\n" })", 20)));
  ASSERT_OK(h.Apply(Edit("m-a", 2, R"(finding { narrative: "B\na\ny\nz\nw\n" })", 30)));
  ASSERT_OK(h.Apply(Edit("m-c", 2, R"(finding { narrative: "B\nx\nc\nz\nw\n" })", 40)));
  ASSERT_THAT(h.head().text_merges(), SizeIs(1));
  ASSERT_OK(h.Apply(Edit("m-g", 1, R"(finding { narrative: "A\nx\ny\nz\ng\n" })", 50)));
  EXPECT_EQ(h.head().body().finding().narrative(), "B\na\nc\nz\ng\n");
  EXPECT_THAT(h.head().open_conflicts(), IsEmpty());
}

// A text merge that began on a head whose text was itself a merge holds
// that text under one writer. An edit made on a revision holding part of the
// merge is merged against the text it saw and keeps every line it did not
// touch. Regression (found by NoNarrativeLineIsLostWhateverRevisionEditsSaw):
// versions were taken as seen by writer, and m-4's line, merged under m-3,
// was lost. Since issue 15, m-6 (which saw m-2's first line and only added
// one above it) no longer conflicts with m-2 either.
TEST(RecordMergeTest, AnEditMadeInsideATextMergeKeepsEveryLineItDidNotTouch) {
  History h;
  ASSERT_OK(h.Apply(Edit("m0", 0, R"(finding { narrative: "0\n1\n2\n3\n4\n5\n" })", 10)));
  ASSERT_OK(h.Apply(Edit("m-1", 1, R"(finding { narrative: "1\n2\n3\n4\n5\n" })", 20)));
  ASSERT_OK(h.Apply(Edit("m-2", 2, R"(finding { narrative: "m2\n1\n2\n3\n4\n5\n" })", 30)));
  ASSERT_OK(h.Apply(Edit("m-3", 1, R"(finding { narrative: "0\n1\nm3\n2\n3\n4\n5\n" })", 90)));
  ASSERT_OK(h.Apply(Edit("m-4", 2, R"(finding { narrative: "1\n2\nm4\n3\n4\n5\n" })", 40)));
  ASSERT_OK(h.Apply(Edit("m-5", 1, R"(finding { narrative: "0\n1\n2\n3\nm5\n4\n5\n" })", 50)));
  ASSERT_EQ(h.head().body().finding().narrative(), "m2\n1\nm3\n2\nm4\n3\nm5\n4\n5\n");
  // Made on revision 4 (m-2 and m-3 merged), before m-4 and m-5.
  auto out = h.Apply(
      Edit("m-6", 4, R"(finding { narrative: "m6\nm2\n1\nm3\n2\n3\n4\n5\n" })", 60));
  ASSERT_OK(out);
  EXPECT_TRUE(out->clean);
  EXPECT_EQ(h.head().body().finding().narrative(),
            "m6\nm2\n1\nm3\n2\nm4\n3\nm5\n4\n5\n");
  EXPECT_THAT(h.head().open_conflicts(), IsEmpty());
}

// Issue 15, exactly as found by a load test from outside: E1 and E2 edit
// different lines of revision 1, E3 is device 2's offline chain on E2, and
// E4 is made on revision 3 (E1 and E2 merged). Every line was edited by one
// device only, so both arrival orders give "a1\nb2\nc1\n" with no conflict.
// Regression: arriving E1 E2 E3 E4, E4 opened a TEXT conflict over the whole
// text and the head went back to "a\nb2\nc\n", losing E1's and E4's lines.
TEST(RecordMergeTest, AChainAndAnEditMadeBetweenItsTwoEditsMergeCleanlyInBothOrders) {
  for (const bool chain_first : {true, false}) {
    SCOPED_TRACE(chain_first ? "E3 before E4" : "E4 before E3");
    History h;
    ASSERT_OK(h.Apply(Edit("m0", 0, R"(finding { narrative: "a\nb\nc\n" })", 10, "dev-0")));
    ASSERT_OK(h.Apply(Edit("e1", 1, R"(finding { narrative: "a\nb\nc1\n" })", 20, "dev-1")));
    const Mutation e2 = Edit("e2", 1, R"(finding { narrative: "a\nb1\nc\n" })", 21, "dev-2");
    ASSERT_OK(h.Apply(e2));
    ASSERT_EQ(h.head().body().finding().narrative(), "a\nb1\nc1\n");
    const Record revision3 = h.head();
    // E3: chained on E2 (the server passes E2's revision with E2's body).
    Mutation e3 = Edit("e3", 3, R"(finding { narrative: "a\nb2\nc\n" })", 30, "dev-2");
    e3.set_base_mutation_id("e2");
    const Record e3_base = ChainedBase(revision3, e2.body());
    const Mutation e4 =
        Edit("e4", 3, R"(finding { narrative: "a1\nb1\nc1\n" })", 31, "dev-3");
    for (int step = 0; step < 2; ++step) {
      auto out = (step == 0) == chain_first ? h.Apply(e3, &e3_base) : h.Apply(e4);
      ASSERT_OK(out);
      EXPECT_TRUE(out->clean);
    }
    EXPECT_EQ(h.head().body().finding().narrative(), "a1\nb2\nc1\n");
    EXPECT_THAT(h.head().open_conflicts(), IsEmpty());
  }
}

// Removing an element that has a conflict open inside it does not settle
// that conflict: the element is kept and the removal is a delete-vs-edit
// conflict, as when the removal arrives before the edits it competes with.
TEST(RecordMergeTest, RemovingAnElementWithAnOpenConflictKeepsIt) {
  History h;
  ASSERT_OK(h.Apply(Edit("m1", 0, "finding { sources { id: \"s1\" } }", 10)));
  ASSERT_OK(h.Apply(
      Edit("m2", 1, "finding { sources { id: \"s1\" note: \"A\" } }", 20)));
  ASSERT_OK(h.Apply(
      Edit("m3", 1, "finding { sources { id: \"s1\" note: \"B\" } }", 30)));
  ASSERT_THAT(h.head().open_conflicts(), SizeIs(1));
  auto out = h.Apply(Edit("m4", 3, "finding { }", 40));
  ASSERT_OK(out);
  EXPECT_FALSE(out->clean);
  ASSERT_THAT(h.head().body().finding().sources(), SizeIs(1));
  EXPECT_EQ(h.head().body().finding().sources(0).note(), "B");
  ASSERT_THAT(h.head().open_conflicts(), SizeIs(2));
  EXPECT_EQ(h.head().open_conflicts(0).kind(),
            vigil::v1::CONFLICT_KIND_ELEMENT_DELETE_EDIT);
  EXPECT_EQ(h.head().open_conflicts(1).field_path(), "sources[id=s1].note");
}

TEST(RecordMergeTest, RejectsInvalidMutations) {
  History h;
  EXPECT_THAT(h.Apply(Edit("m0", 3, "finding { }", 1)),
              StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(h.Apply(Delete("m0", 0, 1)),
              StatusIs(absl::StatusCode::kNotFound));
  Mutation no_kind = Edit("m0", 0, "", 1);
  EXPECT_THAT(h.Apply(no_kind), StatusIs(absl::StatusCode::kInvalidArgument));
  Mutation no_id = Edit("", 0, "finding { }", 1);
  EXPECT_THAT(h.Apply(no_id), StatusIs(absl::StatusCode::kInvalidArgument));

  ASSERT_OK(h.Apply(Edit("m1", 0, "finding { title: \"t\" }", 10)));
  EXPECT_THAT(h.Apply(Edit("m2", 5, "finding { }", 20)),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(h.Apply(Edit("m2", 1, "visit { }", 20)),
              StatusIs(absl::StatusCode::kInvalidArgument));
  Mutation other_record = Edit("m2", 1, "finding { }", 20);
  other_record.set_record_id("rec-2");
  EXPECT_THAT(h.Apply(other_record),
              StatusIs(absl::StatusCode::kInvalidArgument));
  ASSERT_OK(h.Apply(Edit("m2", 1, "finding { title: \"u\" }", 20)));
  // Base revision 1 without the base record from history.
  const Record head = h.head();
  EXPECT_THAT(
      ApplyMutation(&head, nullptr,
                    Edit("m3", 1, "finding { title: \"v\" }", 30), kNow),
      StatusIs(absl::StatusCode::kInvalidArgument));
}

}  // namespace
}  // namespace vigil::sync
