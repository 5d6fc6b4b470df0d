// Pass 2 of ExtractHtml: renders the chosen main-content subtree as plain text (paragraphs, list
// items, table rows, <pre>; see html_extractor.h) through TextSink, a line-oriented buffer that
// also backs CleanInline.
#include "scrape/html_extractor_internal.h"

#include <algorithm>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_set>
#include <utility>
#include <vector>

namespace jrvs::scrape::html_internal {
namespace {

// Length of the well-formed UTF-8 sequence starting at p (at most n bytes), or 0 if malformed
// (overlong forms, surrogates and code points above U+10FFFF are malformed).
std::size_t Utf8SequenceLength(const unsigned char* p, std::size_t n) {
  const unsigned char c = p[0];
  if (c < 0x80) return 1;
  auto cont = [&](std::size_t i, unsigned char lo = 0x80, unsigned char hi = 0xBF) {
    return i < n && p[i] >= lo && p[i] <= hi;
  };
  if (c >= 0xC2 && c <= 0xDF) return cont(1) ? 2 : 0;
  if (c == 0xE0) return cont(1, 0xA0) && cont(2) ? 3 : 0;
  if (c == 0xED) return cont(1, 0x80, 0x9F) && cont(2) ? 3 : 0;
  if (c >= 0xE1 && c <= 0xEF) return cont(1) && cont(2) ? 3 : 0;
  if (c == 0xF0) return cont(1, 0x90) && cont(2) && cont(3) ? 4 : 0;
  if (c >= 0xF1 && c <= 0xF3) return cont(1) && cont(2) && cont(3) ? 4 : 0;
  if (c == 0xF4) return cont(1, 0x80, 0x8F) && cont(2) && cont(3) ? 4 : 0;
  return 0;
}

constexpr std::string_view kReplacementChar = "\xEF\xBF\xBD";

// ----------------------------------------------------------------------------------------------
// Text rendering: a line-oriented buffer with whitespace collapsing, lazy list prefixes and
// lazy table-cell separators. Appends only; never rescans what it wrote (linear time).

class TextSink {
 public:
  // Inline text. Outside <pre>, runs of whitespace (and NBSP) collapse to one space and leading
  // or trailing whitespace of a line is dropped; inside, spacing and line breaks are kept.
  void Append(std::string_view s, bool preformatted) {
    const auto* p = reinterpret_cast<const unsigned char*>(s.data());
    const std::size_t n = s.size();
    std::size_t i = 0;
    while (i < n) {
      const unsigned char c = p[i];
      if (c < 0x80) {
        ++i;
        if (preformatted) {
          if (c == '\r' || c == '\n') {
            if (c == '\r' && i < n && p[i] == '\n') ++i;
            PreNewline();
            continue;
          }
          if (c == '\t' || c == ' ') {
            BeforeVisible();
            out_.push_back(static_cast<char>(c));
            continue;
          }
        } else if (IsAsciiSpace(c)) {
          pending_space_ = true;
          continue;
        }
        if (c < 0x20 || c == 0x7F) continue;  // other control characters
        BeforeVisible();
        out_.push_back(static_cast<char>(c));
        continue;
      }
      const std::size_t len = Utf8SequenceLength(p + i, n - i);
      if (len == 0) {
        BeforeVisible();
        out_.append(kReplacementChar);
        ++i;
        continue;
      }
      if (c == 0xC2 && p[i + 1] == 0xA0) {  // NBSP
        if (preformatted) {
          BeforeVisible();
          out_.push_back(' ');
        } else {
          pending_space_ = true;
        }
      } else if (!(c == 0xC2 && p[i + 1] < 0xA0)) {  // C1 controls are dropped
        BeforeVisible();
        out_.append(s.data() + i, len);
      }
      i += len;
    }
  }

  // A soft boundary: a space unless the line is empty.
  void Space() { pending_space_ = true; }

  // Ends the current line if it has visible content; the next text starts a new line.
  void BreakLine() {
    if (line_has_text_) {
      while (out_.size() > line_start_ && out_.back() == ' ') out_.pop_back();
      if (out_.size() > line_start_) {
        out_.push_back('\n');
        ++breaks_;
      }
      line_start_ = out_.size();
      line_has_text_ = false;
    }
    pending_space_ = false;
    pending_separators_ = 0;
  }

  // Ends the current line; the next text starts after a blank line (a paragraph break).
  void BreakParagraph() {
    BreakLine();
    pending_paragraph_ = !out_.empty();
  }

  // <br>: a line break, or a paragraph break when the line is already empty (<br><br>).
  void HardBreak() {
    if (line_has_text_) {
      BreakLine();
    } else {
      pending_paragraph_ = !out_.empty();
    }
  }

  void SetLinePrefix(std::string prefix) { prefix_ = std::move(prefix); }
  void ClearLinePrefix() { prefix_.clear(); }
  void AddCellSeparator() { ++pending_separators_; }

  void BeginPre(bool paragraph) {
    paragraph ? BreakParagraph() : BreakLine();
    pre_has_text_ = false;
    pending_blank_lines_ = 0;
  }
  void EndPre(bool paragraph) {
    pending_blank_lines_ = 0;
    paragraph ? BreakParagraph() : BreakLine();
  }

  std::size_t size() const { return out_.size(); }
  const std::string& buffer() const { return out_; }

  std::string Take() {
    BreakLine();
    if (!out_.empty() && out_.back() == '\n') out_.pop_back();
    return std::move(out_);
  }

 private:
  void PreNewline() {
    if (line_has_text_) {
      BreakLine();
    } else if (pre_has_text_) {
      ++pending_blank_lines_;  // kept only if more text follows inside the same <pre>
    }
  }

  // Emits what must precede a visible character: blank lines kept from <pre>, the list prefix,
  // cell separators and a collapsed space.
  void BeforeVisible() {
    if (!line_has_text_) {
      if (pending_paragraph_ && !out_.empty()) out_.push_back('\n');
      pending_paragraph_ = false;
      for (; pending_blank_lines_ > 0; --pending_blank_lines_) out_.push_back('\n');
      line_start_ = out_.size();
      out_.append(prefix_);
      prefix_.clear();
    }
    if (pending_separators_ > 0) {
      for (; pending_separators_ > 0; --pending_separators_) {
        out_.append(line_has_text_ ? " |" : "|");
        line_has_text_ = true;
      }
      pending_space_ = true;
    }
    if (pending_space_ && line_has_text_) out_.push_back(' ');
    pending_space_ = false;
    line_has_text_ = true;
    pre_has_text_ = true;
  }

  std::string out_;
  std::size_t line_start_ = 0;  // offset of the current line in out_
  std::size_t breaks_ = 0;
  bool line_has_text_ = false;
  bool pending_space_ = false;
  bool pre_has_text_ = false;
  bool pending_paragraph_ = false;  // a blank line goes before the next visible text
  int pending_separators_ = 0;
  std::size_t pending_blank_lines_ = 0;
  std::string prefix_;
};

}  // namespace

// Collapses whitespace, trims, and repairs UTF-8 (for titles, headings and attribute values).
std::string CleanInline(std::string_view s) {
  TextSink sink;
  sink.Append(s, /*preformatted=*/false);
  return sink.Take();
}

namespace {

// ----------------------------------------------------------------------------------------------
// Pass 2: render the chosen subtree as text.

class Renderer {
 public:
  Renderer(const std::unordered_set<const GumboNode*>& layout_tables, int article_depth)
      : layout_tables_(layout_tables), article_depth_(article_depth) {}

  std::vector<Heading> headings;
  std::string first_time_datetime;

  bool Enter(const GumboNode* node) {
    if (IsText(node)) {
      sink_.Append(node->v.text.text, pre_depth_ > 0 && cell_depth_ == 0);
      return false;
    }
    if (node->type == GUMBO_NODE_DOCUMENT) return true;
    if (node->type != GUMBO_NODE_ELEMENT) return false;  // comments, templates
    if (IsDropped(node, article_depth_ > 0)) return false;
    const GumboElement& el = node->v.element;
    const GumboTag tag = el.tag;
    Frame frame;
    frame.sectioning = IsSectioningRoot(el);
    article_depth_ += frame.sectioning ? 1 : 0;

    if (tag == GUMBO_TAG_TIME && first_time_datetime.empty()) {
      first_time_datetime = CleanInline(AttrValue(el, "datetime"));
    }
    if (tag == GUMBO_TAG_BR) {
      if (cell_depth_ > 0) {
        sink_.Space();
      } else if (pre_depth_ > 0) {
        sink_.Append("\n", true);
      } else {
        sink_.HardBreak();
      }
    } else if (tag == GUMBO_TAG_TABLE) {
      tables_.push_back(layout_tables_.count(node) == 0 && cell_depth_ == 0);
      frame.kind = Kind::kTable;
      Boundary();
    } else if (InDataTable() && tag == GUMBO_TAG_TR) {
      frame.kind = Kind::kRow;
      sink_.BreakLine();
      cells_.push_back(0);
    } else if (InDataTable() && (tag == GUMBO_TAG_TD || tag == GUMBO_TAG_TH) && !cells_.empty()) {
      frame.kind = Kind::kCell;
      if (cells_.back()++ > 0) sink_.AddCellSeparator();
      ++cell_depth_;
    } else if (IsInline(tag) || (InDataTable() && IsTableSection(tag))) {
      // flows into the current line
    } else if (InDataTable() && tag == GUMBO_TAG_CAPTION && cell_depth_ == 0) {
      frame.kind = Kind::kLine;
      sink_.BreakLine();
    } else if (cell_depth_ > 0) {
      frame.kind = Kind::kBlock;  // blocks inside a data cell only separate words
      sink_.Space();
    } else if (tag == GUMBO_TAG_LI) {
      frame.kind = Kind::kListItem;
      sink_.BreakLine();
      const int indent = std::max(list_depth_, 1) - 1;
      sink_.SetLinePrefix(std::string(static_cast<std::size_t>(indent) * 2, ' ') + "- ");
      ++item_depth_;
    } else if (tag == GUMBO_TAG_DT || tag == GUMBO_TAG_DD) {
      frame.kind = Kind::kListItem;
      sink_.BreakLine();
      ++item_depth_;
    } else if (tag == GUMBO_TAG_UL || tag == GUMBO_TAG_OL || tag == GUMBO_TAG_MENU ||
               tag == GUMBO_TAG_DIR) {
      frame.kind = Kind::kList;
      Boundary();
      ++list_depth_;
    } else if (tag == GUMBO_TAG_PRE || tag == GUMBO_TAG_LISTING || tag == GUMBO_TAG_XMP ||
               tag == GUMBO_TAG_PLAINTEXT) {
      frame.kind = Kind::kPre;
      if (pre_depth_++ == 0) sink_.BeginPre(item_depth_ == 0);
    } else {
      frame.kind = IsHeading(tag) ? Kind::kHeading : Kind::kBlock;
      Boundary();
      frame.start = sink_.size();
    }
    frames_.push_back(frame);
    return true;
  }

  void Exit(const GumboNode* node) {
    if (node->type == GUMBO_NODE_DOCUMENT) return;
    const Frame frame = frames_.back();
    frames_.pop_back();
    article_depth_ -= frame.sectioning ? 1 : 0;
    switch (frame.kind) {
      case Kind::kInline:
        return;
      case Kind::kTable:
        tables_.pop_back();
        Boundary();
        return;
      case Kind::kRow:
        cells_.pop_back();
        sink_.BreakLine();
        return;
      case Kind::kCell:
        --cell_depth_;
        return;
      case Kind::kList:
        --list_depth_;
        Boundary();
        return;
      case Kind::kLine:
        sink_.BreakLine();
        return;
      case Kind::kListItem:
        --item_depth_;
        sink_.BreakLine();
        sink_.ClearLinePrefix();
        return;
      case Kind::kPre:
        if (--pre_depth_ == 0) sink_.EndPre(item_depth_ == 0);
        return;
      case Kind::kHeading:
        if (cell_depth_ == 0) {
          std::string text = CleanInline(std::string_view(sink_.buffer()).substr(frame.start));
          if (!text.empty()) {
            headings.push_back(
                {static_cast<int>(node->v.element.tag - GUMBO_TAG_H1) + 1, std::move(text)});
          }
        }
        Boundary();
        return;
      case Kind::kBlock:
        Boundary();
        return;
    }
  }

  std::string Take() { return sink_.Take(); }

 private:
  // What an open element does at its end. kInline: nothing; kBlock: Boundary(); kLine: a line
  // break; kList / kListItem / kPre / kHeading / kTable / kRow / kCell: see Exit().
  enum class Kind : std::uint8_t {
    kInline,
    kBlock,
    kLine,
    kList,
    kListItem,
    kPre,
    kHeading,
    kTable,
    kRow,
    kCell
  };
  struct Frame {
    Kind kind = Kind::kInline;
    bool sectioning = false;
    std::size_t start = 0;  // headings: output offset where the heading began
  };

  bool InDataTable() const { return !tables_.empty() && tables_.back(); }

  // The boundary of a block: a space inside a data-table cell, a line break inside a list item,
  // a paragraph break (blank line) elsewhere.
  void Boundary() {
    if (cell_depth_ > 0) {
      sink_.Space();
    } else if (item_depth_ > 0) {
      sink_.BreakLine();
    } else {
      sink_.BreakParagraph();
    }
  }

  const std::unordered_set<const GumboNode*>& layout_tables_;
  TextSink sink_;
  std::vector<Frame> frames_;
  std::vector<bool> tables_;  // per open table: true when rendered as a data table
  std::vector<int> cells_;    // per open data-table row: cells seen so far
  int article_depth_ = 0;
  int list_depth_ = 0;
  int item_depth_ = 0;  // open li/dt/dd
  int pre_depth_ = 0;
  int cell_depth_ = 0;
};

}  // namespace

RenderedContent RenderContent(const GumboNode* root,
                              const std::unordered_set<const GumboNode*>& layout_tables,
                              int article_depth) {
  Renderer renderer(layout_tables, article_depth);
  Walk(root, renderer);
  RenderedContent out;
  out.text = renderer.Take();
  out.headings = std::move(renderer.headings);
  out.first_time_datetime = std::move(renderer.first_time_datetime);
  return out;
}

}  // namespace jrvs::scrape::html_internal
