package cardlake.masking;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Paths;
import java.security.GeneralSecurityException;
import java.util.Arrays;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;
import org.apache.spark.sql.api.java.UDF1;

/**
 * HMAC-SHA256 of a normalized value, 32 bytes; NULL in, NULL out.
 *
 * <p>The key lives only in this object's private field: Spark plans show the registered name,
 * {@link #toString} is redacted, and no exception or log line carries it. It arrives as the
 * path of a file holding its hex (an anonymous in-memory file from the Python side), never
 * through a gateway call's arguments, which py4j logs at DEBUG.
 */
public final class TokenUdf implements UDF1<String, byte[]> {
  private static final long serialVersionUID = 1L;
  private static final String ALGORITHM = "HmacSHA256";

  private final byte[] key;
  private final String normalizer;
  private transient ThreadLocal<Mac> macs;

  private TokenUdf(byte[] key, String normalizer) {
    this.key = key;
    this.normalizer = normalizer;
    Normalizers.normalize(normalizer, "");
  }

  /** Reads the key's hex from a file; the caller removes the file. */
  public static TokenUdf fromKeyFile(String path, String normalizer) throws IOException {
    byte[] hex = Files.readAllBytes(Paths.get(path));
    try {
      return new TokenUdf(decodeHex(hex), normalizer);
    } finally {
      Arrays.fill(hex, (byte) 0);
    }
  }

  private static byte[] decodeHex(byte[] hex) {
    int n = hex.length;
    while (n > 0 && (hex[n - 1] == '\n' || hex[n - 1] == '\r' || hex[n - 1] == ' ')) {
      n--;
    }
    if (n == 0 || n % 2 != 0) {
      throw new IllegalArgumentException("key file does not hold hex key material");
    }
    byte[] out = new byte[n / 2];
    for (int i = 0; i < out.length; i++) {
      int hi = Character.digit(hex[2 * i], 16);
      int lo = Character.digit(hex[2 * i + 1], 16);
      if (hi < 0 || lo < 0) {
        Arrays.fill(out, (byte) 0);
        throw new IllegalArgumentException("key file does not hold hex key material");
      }
      out[i] = (byte) ((hi << 4) | lo);
    }
    return out;
  }

  private Mac mac() throws GeneralSecurityException {
    if (macs == null) {
      macs = new ThreadLocal<>();
    }
    Mac mac = macs.get();
    if (mac == null) {
      mac = Mac.getInstance(ALGORITHM);
      mac.init(new SecretKeySpec(key, ALGORITHM));
      macs.set(mac);
    }
    return mac;
  }

  /** HMAC of raw bytes (the RFC 4231 vectors); doFinal leaves the Mac keyed for the next call. */
  public byte[] hmac(byte[] message) throws GeneralSecurityException {
    return mac().doFinal(message);
  }

  @Override
  public byte[] call(String value) throws GeneralSecurityException {
    String normalized = Normalizers.normalize(normalizer, value);
    return normalized == null ? null : hmac(normalized.getBytes(StandardCharsets.UTF_8));
  }

  @Override
  public String toString() {
    return "TokenUdf(normalizer=" + normalizer + ", key=<redacted>)";
  }
}
