// The Porter stemmer declared in core/porter_stemmer.h: a port of the behaviour of SQLite FTS5's
// porter tokenizer (steps 1a-5b of Porter 1980 with the reference C code's departures).
#include "core/porter_stemmer.h"

#include <array>
#include <cstddef>

namespace jrvs::text {
namespace {

bool IsVowelLetter(char c) { return c == 'a' || c == 'e' || c == 'i' || c == 'o' || c == 'u'; }

// m: the number of vowel->consonant transitions in w[0, n), where y after a consonant is a vowel.
int Measure(const std::string& w, size_t n) {
  int m = 0;
  bool prev_cons = false;
  for (size_t i = 0; i < n; ++i) {
    char c = w[i];
    bool cons = !(IsVowelLetter(c) || (c == 'y' && i > 0 && prev_cons));
    if (cons && i > 0 && !prev_cons) ++m;
    prev_cons = cons;
  }
  return m;
}

// *v*: w[0, n) contains a vowel (FTS5 counts any y but the first letter).
bool HasVowel(const std::string& w, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    if (IsVowelLetter(w[i]) || (w[i] == 'y' && i > 0)) return true;
  }
  return false;
}

// *o: w[0, n) ends consonant-vowel-consonant, the last not w, x or y.
bool EndsCvc(const std::string& w, size_t n) {
  if (n < 3) return false;
  char last = w[n - 1];
  if (last == 'w' || last == 'x' || last == 'y') return false;
  unsigned mask = 0;
  bool prev_cons = false;
  for (size_t i = 0; i < n; ++i) {
    char c = w[i];
    bool cons = !(IsVowelLetter(c) || (c == 'y' && i > 0 && prev_cons));
    mask = (mask << 1) | (cons ? 1u : 0u);
    prev_cons = cons;
  }
  return (mask & 7u) == 5u;
}

bool EndsWith(const std::string& w, std::string_view suffix) {
  return w.size() > suffix.size() && w.back() == suffix.back() &&
         std::string_view(w).substr(w.size() - suffix.size()) == suffix;
}

struct StemRule {
  std::string_view suffix;
  std::string_view replacement;
};

enum class StemCondition { kMGt0, kMGt1 };

// Applies the first rule whose suffix matches (the stem must be non-empty); if that rule's
// condition fails, no other rule is tried, as in the paper.
template <size_t N>
void ApplyFirstRule(std::string* w, const std::array<StemRule, N>& rules, StemCondition cond) {
  for (const StemRule& r : rules) {
    if (!EndsWith(*w, r.suffix)) continue;
    size_t stem = w->size() - r.suffix.size();
    bool ok = Measure(*w, stem) > (cond == StemCondition::kMGt0 ? 0 : 1);
    if (ok && r.suffix == "ion") ok = (*w)[stem - 1] == 's' || (*w)[stem - 1] == 't';
    if (ok) {
      w->resize(stem);
      w->append(r.replacement);
    }
    return;
  }
}

constexpr std::array<StemRule, 21> kStep2 = {{
    {"ational", "ate"}, {"tional", "tion"}, {"enci", "ence"},   {"anci", "ance"}, {"izer", "ize"},
    {"logi", "log"},    {"bli", "ble"},     {"alli", "al"},     {"entli", "ent"}, {"eli", "e"},
    {"ousli", "ous"},   {"ization", "ize"}, {"ation", "ate"},   {"ator", "ate"},  {"alism", "al"},
    {"iveness", "ive"}, {"fulness", "ful"}, {"ousness", "ous"}, {"aliti", "al"},  {"iviti", "ive"},
    {"biliti", "ble"},
}};

constexpr std::array<StemRule, 7> kStep3 = {{
    {"icate", "ic"},
    {"ative", ""},
    {"alize", "al"},
    {"iciti", "ic"},
    {"ical", "ic"},
    {"ful", ""},
    {"ness", ""},
}};

constexpr std::array<StemRule, 19> kStep4 = {{
    {"al", ""},  {"ance", ""},  {"ence", ""}, {"er", ""},  {"ic", ""},  {"able", ""}, {"ible", ""},
    {"ant", ""}, {"ement", ""}, {"ment", ""}, {"ent", ""}, {"ion", ""}, {"ou", ""},   {"ism", ""},
    {"ate", ""}, {"iti", ""},   {"ous", ""},  {"ive", ""}, {"ize", ""},
}};

}  // namespace

void PorterStemInPlace(std::string* word) {
  std::string& w = *word;
  if (w.size() < 3 || w.size() > 64) return;

  // Step 1a: plurals.
  if (w.back() == 's') {
    size_t n = w.size();
    if (w[n - 2] == 'e') {
      bool drop_two = (n > 4 && w[n - 4] == 's' && w[n - 3] == 's') || (n > 3 && w[n - 3] == 'i');
      w.resize(n - (drop_two ? 2 : 1));
    } else if (w[n - 2] != 's') {
      w.resize(n - 1);
    }
  }

  // Step 1b: -eed, -ed, -ing.
  bool tidy = false;
  if (EndsWith(w, "eed")) {
    if (Measure(w, w.size() - 3) > 0) w.pop_back();
  } else if (EndsWith(w, "ed")) {
    if (HasVowel(w, w.size() - 2)) {
      w.resize(w.size() - 2);
      tidy = true;
    }
  } else if (EndsWith(w, "ing")) {
    if (HasVowel(w, w.size() - 3)) {
      w.resize(w.size() - 3);
      tidy = true;
    }
  }
  if (tidy) {
    if (EndsWith(w, "at") || EndsWith(w, "bl") || EndsWith(w, "iz")) {
      w.push_back('e');
    } else if (size_t n = w.size(); n >= 2 && !IsVowelLetter(w[n - 1]) && w[n - 1] != 'l' &&
                                    w[n - 1] != 's' && w[n - 1] != 'z' && w[n - 1] == w[n - 2]) {
      w.pop_back();
    } else if (Measure(w, w.size()) == 1 && EndsCvc(w, w.size())) {
      w.push_back('e');
    }
  }

  // Step 1c: y -> i after a vowel somewhere in the stem.
  if (w.back() == 'y' && HasVowel(w, w.size() - 1)) w.back() = 'i';

  // Steps 2-4: suffix tables.
  ApplyFirstRule(&w, kStep2, StemCondition::kMGt0);
  ApplyFirstRule(&w, kStep3, StemCondition::kMGt0);
  ApplyFirstRule(&w, kStep4, StemCondition::kMGt1);

  // Step 5a: final e.
  if (w.back() == 'e') {
    int m = Measure(w, w.size() - 1);
    if (m > 1 || (m == 1 && !EndsCvc(w, w.size() - 1))) w.pop_back();
  }
  // Step 5b: -ll -> -l.
  if (w.size() > 1 && w.back() == 'l' && w[w.size() - 2] == 'l' && Measure(w, w.size() - 1) > 1) {
    w.pop_back();
  }
}

std::string PorterStem(std::string_view word) {
  std::string w(word);
  PorterStemInPlace(&w);
  return w;
}

}  // namespace jrvs::text
