package cardlake.masking;

import org.apache.spark.sql.api.java.UDF1;

/** Keyless UDFs: normalizers, redaction and PAN detection, registered by masking/jvm.py. */
public final class TextUdfs {
  private TextUdfs() {}

  public static UDF1<String, String> redact() {
    return FreeText::redact;
  }

  public static UDF1<String, Boolean> hasPan() {
    return FreeText::hasPan;
  }

  public static UDF1<String, String> normalize(String kind) {
    Normalizers.normalize(kind, "");
    return v -> Normalizers.normalize(kind, v);
  }

  public static UDF1<String, Boolean> unparsed(String kind) {
    Normalizers.normalize(kind, "");
    return v -> Normalizers.unparsed(kind, v);
  }

  public static UDF1<String, String> panDisplayDigits() {
    return Normalizers::panDisplayDigits;
  }
}
