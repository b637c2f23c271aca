package cardlake.masking;

import java.text.Normalizer;

/**
 * Value normalizers applied before tokenizing, NFKC first wherever people type the value.
 * masking/reference.py is the pure-Python reference; both must agree for every input.
 */
public final class Normalizers {
  /** Characters trimmed from both ends (after NFKC, which maps ideographic and no-break spaces to ' '). */
  static final String TRIM = " \t\n\r\f\u000b";
  /**
   * After NFKC: the hyphen and dash family, the minus sign, the IME long-vowel dash, the box
   * drawing lines an IME offers for it, wavy and double dashes.
   */
  static final String DASHES =
      "-\u2010\u2011\u2012\u2013\u2014\u2015\u2212\u30fc\u2500\u2501\u3030\u2e3a\u2e3b"
          + "\u30a0\u2043";
  /** Copied and pasted text carries these unseen between digits. */
  static final String INVISIBLE = "\u00ad\u200b\u200c\u200d\u200e\u200f\u2060\ufeff";

  /**
   * The normalizers' and detectors' version: masking/reference.py's NORMALIZER_VERSION. The
   * Python side refuses a jar of another version, so a stale build cannot change tokens.
   */
  public static final int VERSION = 2;

  private Normalizers() {}

  public static int version() {
    return VERSION;
  }

  /** NFKC; ASCII text is already NFKC, so it skips the normalizer. */
  public static String nfkc(String s) {
    for (int i = 0; i < s.length(); i++) {
      if (s.charAt(i) >= 0x80) {
        return Normalizer.normalize(s, Normalizer.Form.NFKC);
      }
    }
    return s;
  }

  static String trim(String s) {
    int start = 0;
    int end = s.length();
    while (start < end && TRIM.indexOf(s.charAt(start)) >= 0) {
      start++;
    }
    while (end > start && TRIM.indexOf(s.charAt(end - 1)) >= 0) {
      end--;
    }
    return s.substring(start, end);
  }

  static boolean isDigit(char c) {
    return c >= '0' && c <= '9';
  }

  static String asciiDigits(String s) {
    StringBuilder out = new StringBuilder(s.length());
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      if (isDigit(c)) {
        out.append(c);
      }
    }
    return out.toString();
  }

  static String asciiLower(String s) {
    StringBuilder out = null;
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      if (c >= 'A' && c <= 'Z') {
        if (out == null) {
          out = new StringBuilder(s);
        }
        out.setCharAt(i, (char) (c + 32));
      }
    }
    return out == null ? s : out.toString();
  }

  /** The value a token is computed from: the canonical form, or the trimmed NFKC form when it does not parse. */
  public static String normalize(String kind, String value) {
    if (value == null) {
      return null;
    }
    switch (kind) {
      case "none":
        return value;
      case "pan":
        return pan(value);
      case "email":
        return email(value);
      case "phone":
        return phone(value);
      case "name":
        return name(value);
      default:
        throw new IllegalArgumentException("unknown normalizer " + kind);
    }
  }

  /** True where the normalizer could not parse the value (its token is then of the NFKC form). */
  public static boolean unparsed(String kind, String value) {
    if (value == null) {
      return false;
    }
    switch (kind) {
      case "pan":
        return panDigits(trim(nfkc(value))) == null;
      case "email":
        return !isEmail(email(value));
      case "phone":
        return e164(trim(nfkc(value))) == null;
      default:
        return false;
    }
  }

  /** The digits of a PAN field written with any separators people type; null if it holds anything else. */
  static String panDigits(String t) {
    StringBuilder digits = new StringBuilder(t.length());
    for (int i = 0; i < t.length(); i++) {
      char c = t.charAt(i);
      if (isDigit(c)) {
        digits.append(c);
      } else if (FreeText.SEPARATORS.indexOf(c) < 0) {
        return null;
      }
    }
    int n = digits.length();
    return n >= 8 && n <= 19 ? digits.toString() : null;
  }

  public static String pan(String value) {
    String t = trim(nfkc(value));
    String digits = panDigits(t);
    return digits == null ? t : digits;
  }

  /** ASCII digits of the NFKC form: what the display columns (BIN, last 4) are cut from. */
  public static String panDisplayDigits(String value) {
    return value == null ? null : asciiDigits(nfkc(value));
  }

  public static String email(String value) {
    return asciiLower(trim(nfkc(value)));
  }

  static boolean isEmail(String e) {
    int at = e.indexOf('@');
    if (at <= 0 || at != e.lastIndexOf('@')) {
      return false;
    }
    int dot = e.lastIndexOf('.');
    if (dot <= at + 1 || dot == e.length() - 1) {
      return false;
    }
    for (int i = 0; i < e.length(); i++) {
      if (TRIM.indexOf(e.charAt(i)) >= 0) {
        return false;
      }
    }
    return true;
  }

  public static String phone(String value) {
    String t = trim(nfkc(value));
    String e164 = e164(t);
    return e164 == null ? t : e164;
  }

  /**
   * E.164 with Japan as the default region: 090-1234-5678, (03) 1234-5678, 03(1234)5678,
   * +81 (0)3 1234 5678 and +81-90-... all give +81 and the national number without its trunk 0.
   */
  static String e164(String t) {
    boolean plus = t.startsWith("+");
    String body = (plus ? t.substring(1) : t).replace("(0)", "");
    StringBuilder digits = new StringBuilder(body.length());
    for (int i = 0; i < body.length(); i++) {
      char c = body.charAt(i);
      if (isDigit(c)) {
        digits.append(c);
      } else if (c != ' ' && c != '(' && c != ')' && c != '.' && DASHES.indexOf(c) < 0) {
        return null;
      }
    }
    String d = digits.toString();
    String out;
    if (plus && d.startsWith("81")) {
      String national = d.substring(2);
      out = "+81" + (national.startsWith("0") ? national.substring(1) : national);
    } else if (plus) {
      out = "+" + d;
    } else {
      out = "+81" + (d.startsWith("0") ? d.substring(1) : d);
    }
    int n = out.length() - 1;
    return n >= 8 && n <= 15 ? out : null;
  }

  /** NFKC, runs of white space as one space, trimmed. */
  public static String name(String value) {
    String t = trim(nfkc(value));
    StringBuilder out = new StringBuilder(t.length());
    boolean space = false;
    for (int i = 0; i < t.length(); i++) {
      char c = t.charAt(i);
      if (TRIM.indexOf(c) >= 0) {
        space = true;
        continue;
      }
      if (space) {
        out.append(' ');
        space = false;
      }
      out.append(c);
    }
    return out.toString();
  }
}
