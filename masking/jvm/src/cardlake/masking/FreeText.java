package cardlake.masking;

import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * PAN, e-mail and phone detection in free text, on its NFKC form.
 *
 * <p>A PAN is 13-19 digits in groups joined by short runs (1-3 characters) of the separators
 * people type between groups, Luhn-valid, not touching other digits. Every run of joined
 * groups is searched for each such span, so a PAN next to a date or an order number is
 * still found. masking/reference.py is the pure-Python reference; both must agree.
 */
public final class FreeText {
  /**
   * Typed between the digit groups of a PAN (after NFKC): white space and line breaks, the
   * dashes, invisible characters, dot, slash, underscore, middle dots, tildes and wave
   * dashes, commas, colons, bars and parentheses (a parenthesized digit, NFKC of ⑷, is "(4)").
   */
  static final String SEPARATORS =
      " \t\n\r" + Normalizers.DASHES + Normalizers.INVISIBLE + "._/\u30fb\u00b7~\u301c\u3001,:|()";

  static final int MAX_SEPARATOR_RUN = 5;
  /** Kanji numerals count as digits in free text (a PAN written out vertically, say). */
  static final String KANJI_DIGITS =
      "\u3007\u4e00\u4e8c\u4e09\u56db\u4e94\u516d\u4e03\u516b\u4e5d";
  public static final String PAN_MARK = "[PAN]";
  public static final String EMAIL_MARK = "[EMAIL]";
  public static final String PHONE_MARK = "[PHONE]";

  static final String AT = "(?:@|\\((?:at|AT)\\)|\\[(?:at|AT)\\]|\\u2605|\\u2606)";
  static final String DOT = "(?:\\.| ?\\((?:dot|DOT)\\) ?| ?\\[(?:dot|DOT)\\] ?)";
  static final String LABEL = "[A-Za-z0-9\\-\\u3040-\\u30ff\\u3400-\\u9fff]+";
  /** The look-behind starts a local part only where one can start: linear on long memos. */
  static final Pattern EMAIL =
      Pattern.compile(
          "(?<![A-Za-z0-9._%+\\-])[A-Za-z0-9._%+\\-]+ ?" + AT + " ?" + LABEL + "(?:" + DOT
              + LABEL + ")*" + DOT + "[A-Za-z]{2,}");
  static final String PHONE_SEPARATOR =
      "[\\-\\u2010-\\u2015\\u2212\\u30fc\\u2500\\u2501\\u3030\\u2e3a\\u2e3b\\u30a0\\u2043.\\u30fb~\\u301c]";
  static final String SEP = "(?: ?" + PHONE_SEPARATOR + " ?| )";
  static final Pattern PHONE =
      Pattern.compile(
          "(?<![0-9+])(?:(?:\\+|00|010" + SEP + "?)81" + SEP + "?(?:\\(0\\)" + SEP + "?)?\\(?0?|\\(0|0)"
              + "[0-9]{1,4}(?: ?\\)" + SEP + "?| ?\\( ?|" + SEP + ")?[0-9]{1,4}(?:\\)" + SEP
              + "?|" + SEP + ")?[0-9]{3,4}(?![0-9])");
  static final Pattern PHONE_GAP = Pattern.compile(SEP);

  private FreeText() {}

  /** Whether a string could hold a digit or an @ once NFKC-normalized: cheap, spares most text. */
  static boolean mayHoldSomething(String s) {
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      if (c >= 0x80 || (c >= '0' && c <= '9') || c == '@' || c == '(' || c == '[') {
        return true;
      }
    }
    return false;
  }

  static int digitValue(char c) {
    return c >= '0' && c <= '9' ? c - '0' : KANJI_DIGITS.indexOf(c);
  }

  static boolean luhn(CharSequence digits) {
    int total = 0;
    int n = digits.length();
    for (int i = 0; i < n; i++) {
      int d = digits.charAt(n - 1 - i) - '0';
      if (i % 2 == 1) {
        d = d > 4 ? d * 2 - 9 : d * 2;
      }
      total += d;
    }
    return total % 10 == 0;
  }

  /** Start and end (exclusive) of every PAN in an NFKC string, merged where they overlap. */
  static List<int[]> panSpans(String s) {
    List<int[]> groups = new ArrayList<>();
    int n = s.length();
    int i = 0;
    while (i < n) {
      if (digitValue(s.charAt(i)) >= 0) {
        int start = i;
        while (i < n && digitValue(s.charAt(i)) >= 0) {
          i++;
        }
        groups.add(new int[] {start, i});
      } else {
        i++;
      }
    }
    List<int[]> spans = new ArrayList<>();
    int chainStart = 0;
    for (int g = 0; g < groups.size(); g++) {
      boolean last = g == groups.size() - 1;
      if (last || !joined(s, groups.get(g)[1], groups.get(g + 1)[0])) {
        addChainSpans(s, groups.subList(chainStart, g + 1), spans);
        chainStart = g + 1;
      }
    }
    return merge(spans);
  }

  private static boolean joined(String s, int from, int to) {
    int gap = to - from;
    if (gap < 1 || gap > MAX_SEPARATOR_RUN) {
      return false;
    }
    for (int i = from; i < to; i++) {
      if (SEPARATORS.indexOf(s.charAt(i)) < 0) {
        return false;
      }
    }
    return true;
  }

  private static void addChainSpans(String s, List<int[]> chain, List<int[]> spans) {
    StringBuilder digits = new StringBuilder(19);
    for (int a = 0; a < chain.size(); a++) {
      digits.setLength(0);
      for (int b = a; b < chain.size(); b++) {
        for (int c = chain.get(b)[0]; c < chain.get(b)[1]; c++) {
          digits.append((char) ('0' + digitValue(s.charAt(c))));
        }
        if (digits.length() > 19) {
          break;
        }
        if (digits.length() >= 13 && luhn(digits)) {
          spans.add(new int[] {chain.get(a)[0], chain.get(b)[1]});
        }
      }
    }
  }

  private static List<int[]> merge(List<int[]> spans) {
    spans.sort((x, y) -> x[0] != y[0] ? Integer.compare(x[0], y[0]) : Integer.compare(x[1], y[1]));
    List<int[]> merged = new ArrayList<>();
    for (int[] span : spans) {
      int[] tail = merged.isEmpty() ? null : merged.get(merged.size() - 1);
      if (tail != null && span[0] < tail[1]) {
        tail[1] = Math.max(tail[1], span[1]);
      } else {
        merged.add(new int[] {span[0], span[1]});
      }
    }
    return merged;
  }

  private static String replace(String s, List<int[]> spans, String mark) {
    StringBuilder out = new StringBuilder(s.length());
    int at = 0;
    for (int[] span : spans) {
      out.append(s, at, span[0]).append(mark);
      at = span[1];
    }
    return out.append(s, at, s.length()).toString();
  }

  private static List<int[]> phoneSpans(String s) {
    List<int[]> spans = new ArrayList<>();
    Matcher m = PHONE.matcher(s);
    int from = 0;
    while (from <= s.length() && m.find(from)) {
      if (phoneDigitsOk(m.group())) {
        int[] span = widen(s, m.start(), m.end());
        if (!spans.isEmpty() && span[0] <= spans.get(spans.size() - 1)[1]) {
          span[0] = spans.remove(spans.size() - 1)[0];
        }
        spans.add(span);
        from = span[1];
      } else {
        from = m.start() + 1;
      }
    }
    return spans;
  }

  /**
   * A phone span grown over digit groups joined to it by a separator (an extension, an
   * international prefix the pattern did not take): no digit of it is left in clear.
   */
  private static int[] widen(String s, int start, int end) {
    Matcher gap = PHONE_GAP.matcher(s);
    while (true) {
      gap.region(end, s.length());
      if (!gap.lookingAt() || gap.end() >= s.length() || !Normalizers.isDigit(s.charAt(gap.end()))) {
        break;
      }
      end = gap.end();
      while (end < s.length() && Normalizers.isDigit(s.charAt(end))) {
        end++;
      }
    }
    while (true) {
      int before = -1;
      for (int n = 1; n <= 3; n++) {
        if (start - n > 0) {
          gap.region(start - n, start);
          if (gap.matches() && Normalizers.isDigit(s.charAt(start - n - 1))) {
            before = start - n;
            break;
          }
        }
      }
      if (before < 0) {
        break;
      }
      start = before;
      while (start > 0 && Normalizers.isDigit(s.charAt(start - 1))) {
        start--;
      }
    }
    return new int[] {start, end};
  }

  private static boolean phoneDigitsOk(String match) {
    String digits = Normalizers.asciiDigits(match);
    String national;
    if (match.startsWith("+")) {
      national = digits.substring(2);
    } else if (digits.startsWith("0081")) {
      national = digits.substring(4);
    } else if (digits.startsWith("01081")) {
      national = digits.substring(5);
    } else {
      return digits.length() == 10 || digits.length() == 11;
    }
    if (national.startsWith("0")) {
      national = national.substring(1);
    }
    return national.length() == 9 || national.length() == 10;
  }

  private static List<int[]> emailSpans(String s) {
    List<int[]> spans = new ArrayList<>();
    Matcher m = EMAIL.matcher(s);
    while (m.find()) {
      spans.add(new int[] {m.start(), m.end()});
    }
    return spans;
  }

  /** PANs, e-mail addresses and phone numbers replaced by markers; text with none is returned as it was. */
  public static String redact(String text) {
    if (text == null || !mayHoldSomething(text)) {
      return text;
    }
    String s = Normalizers.nfkc(text);
    List<int[]> pans = panSpans(s);
    String noPan = pans.isEmpty() ? s : replace(s, pans, PAN_MARK);
    List<int[]> emails = emailSpans(noPan);
    String noEmail = emails.isEmpty() ? noPan : replace(noPan, emails, EMAIL_MARK);
    List<int[]> phones = phoneSpans(noEmail);
    String out = phones.isEmpty() ? noEmail : replace(noEmail, phones, PHONE_MARK);
    return pans.isEmpty() && emails.isEmpty() && phones.isEmpty() ? text : out;
  }

  /** Whether a string holds a Luhn-valid PAN in any typed form. */
  public static boolean hasPan(String text) {
    if (text == null || !mayHoldSomething(text)) {
      return false;
    }
    if (isAscii(text)) {
      int digits = 0;
      for (int i = 0; i < text.length(); i++) {
        if (Normalizers.isDigit(text.charAt(i))) {
          digits++;
        }
      }
      if (digits < 13) {
        return false;
      }
    }
    return !panSpans(Normalizers.nfkc(text)).isEmpty();
  }

  private static boolean isAscii(String s) {
    for (int i = 0; i < s.length(); i++) {
      if (s.charAt(i) >= 0x80) {
        return false;
      }
    }
    return true;
  }
}
