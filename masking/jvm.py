"""cardlake's JVM masking UDFs (masking/jvm/src), registered into a SparkSession.

Tokens, normalizers, redaction and PAN detection all run in the JVM as Java UDFs: a plan
shows only a UDF's name, so no key or key-derived byte becomes a plan literal (plans reach
event logs and the Spark UI). A key reaches its UDF as the path of an anonymous in-memory
file holding its hex, never as a gateway argument (py4j logs those at DEBUG).
masking/reference.py is the pure-Python reference of every function here.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from pyspark.sql import Column, SparkSession
from pyspark.sql import functions as F

from etl.contracts.manifest import NORMALIZERS
from etl.errors import CardlakeError
from etl.settings import settings
from masking.keys import TokenKey
from masking.reference import NORMALIZER_VERSION

JAR_ENV = "CARDLAKE_MASKING_JAR"
DEFAULT_JAR = Path(__file__).resolve().parent / "jvm" / "build" / "cardlake-masking.jar"
PACKAGE = "cardlake.masking"


def masking_jar() -> str:
    """The built UDF library; the job stops before any read when it is missing."""
    jar = str(settings().masking_jar or DEFAULT_JAR)
    if not os.path.isfile(jar):
        raise CardlakeError(
            f"masking UDF jar not found at {jar}: build it with `make jar` (needs a JDK's "
            f"javac), or set {JAR_ENV}; spark-submit and Glue take it with --jars/--extra-jars"
        )
    return jar


@contextlib.contextmanager
def _key_file(material: bytes) -> Iterator[str]:
    """A path the driver JVM can read the key's hex from, for as long as the block runs."""
    if hasattr(os, "memfd_create"):
        fd = os.memfd_create("cardlake-key", os.MFD_CLOEXEC)
        try:
            os.write(fd, material.hex().encode("ascii"))
            yield f"/proc/{os.getpid()}/fd/{fd}"
        finally:
            os.close(fd)
        return
    directory = tempfile.mkdtemp(prefix="cardlake-key-")  # 0700
    path = os.path.join(directory, "key")
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(material.hex())
        yield path
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.remove(path)
        os.rmdir(directory)


_registrations = itertools.count(1)


class JvmMasking:
    """The masking UDFs of one SparkSession, registered on first use."""

    def __init__(self, spark: SparkSession) -> None:
        self._spark = spark
        jvm = spark.sparkContext._jvm
        assert jvm is not None
        self._jvm = jvm
        try:
            jvm.java.lang.Class.forName(
                f"{PACKAGE}.FreeText",
                True,
                jvm.java.lang.Thread.currentThread().getContextClassLoader(),
            )
        except Exception:
            jar = masking_jar()
            raise CardlakeError(
                f"Spark cannot load the masking UDF library: pass --jars {jar} to "
                "spark-submit (--extra-jars on Glue); if it is passed, the jar is not a "
                "build of masking/jvm: rebuild it with `make jar`"
            ) from None
        built = int(jvm.cardlake.masking.Normalizers.version())
        if built != NORMALIZER_VERSION:
            raise CardlakeError(
                f"the masking jar implements normalizer version {built}, this code version "
                f"{NORMALIZER_VERSION}: rebuild it with `make jar` ({masking_jar()})"
            )
        self._names: dict[tuple[object, ...], str] = {}

    def _register(self, cache_key: tuple[object, ...], name: str, udf: object, returns: str) -> str:
        if cache_key not in self._names:
            data_type = getattr(self._jvm.org.apache.spark.sql.types.DataTypes, returns)
            self._spark._jsparkSession.udf().register(name, udf, data_type)
            self._names[cache_key] = name
        return self._names[cache_key]

    def _text_udf(self, function: str, returns: str, *args: str) -> str:
        udfs = self._jvm.cardlake.masking.TextUdfs
        name = "_".join(["cl", function, *args])
        return self._register((function, *args), name, getattr(udfs, function)(*args), returns)

    def token(self, col: Column, key: TokenKey, normalizer: str) -> Column:
        """32-byte HMAC-SHA256 of the normalized value; NULL in, NULL out."""
        if normalizer not in NORMALIZERS:
            raise ValueError(f"unknown normalizer {normalizer!r}")
        # By the material's identity, not its bytes: a traceback that shows locals then
        # shows no key.
        cache_key = ("token", key.name, key.version, id(key.material), normalizer)
        name = self._names.get(cache_key)
        if name is None:
            with _key_file(key.material) as path:
                udf = self._jvm.cardlake.masking.TokenUdf.fromKeyFile(path, normalizer)
            name = f"cl_token_{key.name}_v{key.version}_{normalizer}_{next(_registrations)}"
            self._register(cache_key, name, udf, "BinaryType")
        return F.call_udf(name, col)

    def normalize(self, col: Column, kind: str) -> Column:
        return F.call_udf(self._text_udf("normalize", "StringType", kind), col)

    def unparsed(self, col: Column, kind: str) -> Column:
        """True where the normalizer could not parse the value (its token is of the NFKC form)."""
        return F.call_udf(self._text_udf("unparsed", "BooleanType", kind), col)

    def pan_display_digits(self, col: Column) -> Column:
        return F.call_udf(self._text_udf("panDisplayDigits", "StringType"), col)

    def redact(self, col: Column) -> Column:
        """PANs, e-mail addresses and phone numbers in free text replaced by markers."""
        return F.call_udf(self._text_udf("redact", "StringType"), col)

    def has_pan(self, col: Column) -> Column:
        """True where a string holds a Luhn-valid PAN in any typed form."""
        return F.call_udf(self._text_udf("hasPan", "BooleanType"), col)


def jvm_masking(spark: SparkSession) -> JvmMasking:
    """The session's masking UDFs (one registry per session)."""
    registry = getattr(spark, "_cardlake_masking", None)
    if registry is None:
        registry = JvmMasking(spark)
        spark._cardlake_masking = registry  # type: ignore[attr-defined]
    return registry
