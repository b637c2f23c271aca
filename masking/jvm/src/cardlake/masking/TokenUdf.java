package cardlake.masking;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Paths;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.util.Arrays;
import org.apache.spark.sql.api.java.UDF1;

/**
 * HMAC-SHA256 (RFC 2104) of a normalized value, 32 bytes; NULL in, NULL out.
 *
 * <p>The key lives only in this object's private field: Spark plans show the registered name,
 * {@link #toString} is redacted, and no exception or log line carries it. It arrives as the
 * path of a file holding its hex (an anonymous in-memory file from the Python side), never
 * through a gateway call's arguments, which py4j logs at DEBUG.
 */
public final class TokenUdf implements UDF1<String, byte[]> {
  private static final long serialVersionUID = 1L;
  private static final String DIGEST = "SHA-256";
  private static final int BLOCK = 64;

  private final byte[] key;
  private final String normalizer;
  private transient ThreadLocal<Pads> pads;

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

  /**
   * The SHA-256 states after absorbing K xor ipad and K xor opad (RFC 2104), per thread: each
   * token then clones them, two compressions fewer than javax.crypto.Mac, which re-absorbs
   * the pads on every call (1.5x the tokens per second, measured). Derived on the executor,
   * never serialized.
   */
  private static final class Pads {
    final MessageDigest inner;
    final MessageDigest outer;

    Pads(byte[] key) throws GeneralSecurityException {
      byte[] block = new byte[BLOCK];
      byte[] k = key.length > BLOCK ? MessageDigest.getInstance(DIGEST).digest(key) : key;
      System.arraycopy(k, 0, block, 0, k.length);
      inner = MessageDigest.getInstance(DIGEST);
      outer = MessageDigest.getInstance(DIGEST);
      for (int i = 0; i < BLOCK; i++) {
        block[i] ^= 0x36;
      }
      inner.update(block);
      for (int i = 0; i < BLOCK; i++) {
        block[i] ^= 0x36 ^ 0x5c;
      }
      outer.update(block);
      Arrays.fill(block, (byte) 0);
    }
  }

  private Pads pads() throws GeneralSecurityException {
    if (pads == null) {
      pads = new ThreadLocal<>();
    }
    Pads p = pads.get();
    if (p == null) {
      p = new Pads(key);
      pads.set(p);
    }
    return p;
  }

  /** HMAC-SHA256 of raw bytes. */
  public byte[] hmac(byte[] message) throws GeneralSecurityException {
    Pads p = pads();
    try {
      MessageDigest inner = (MessageDigest) p.inner.clone();
      inner.update(message);
      MessageDigest outer = (MessageDigest) p.outer.clone();
      outer.update(inner.digest());
      return outer.digest();
    } catch (CloneNotSupportedException e) {
      throw new GeneralSecurityException("SHA-256 state cannot be cloned", e);
    }
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
