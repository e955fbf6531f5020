"""What an uploaded file really is, decided from its leading bytes.

Clients send whatever name and Content-Type they like, and teachers rename files freely, so only
the bytes are trusted. The name is consulted only where the bytes cannot tell formats apart
(legacy Office files share one container format) and never to turn unknown bytes into a format.
Everything here is pure and cheap: it runs on the upload path before anything is stored.
"""

from __future__ import annotations

import codecs
import re
import struct
import zlib
from dataclasses import dataclass
from enum import StrEnum

# Enough to see a ZIP's first parts, an ISO-BMFF ftyp box, an EBML header and the first subtitle cues.
SNIFF_BYTES = 64 * 1024


class FileCategory(StrEnum):
    video = "video"
    document = "document"
    image = "image"
    subtitle = "subtitle"
    # Reading aloud (朗读) handed in as homework; resources are never audio alone.
    audio = "audio"


@dataclass(frozen=True)
class DetectedType:
    format: str
    media_type: str
    extension: str
    category: FileCategory


def _type(format: str, media_type: str, category: FileCategory, extension: str = "") -> DetectedType:
    return DetectedType(format, media_type, extension or f".{format}", category)


_OOXML = "application/vnd.openxmlformats-officedocument"
TYPES: dict[str, DetectedType] = {
    t.format: t
    for t in (
        _type("mp4", "video/mp4", FileCategory.video),
        _type("mov", "video/quicktime", FileCategory.video),
        _type("webm", "video/webm", FileCategory.video),
        # What OBS, 录播 systems, camcorders and older phones write (issue 14); FFmpeg decodes them
        # all and the worker makes browser-playable renditions of each.
        _type("mkv", "video/x-matroska", FileCategory.video),
        _type("flv", "video/x-flv", FileCategory.video),
        _type("avi", "video/x-msvideo", FileCategory.video),
        _type("ts", "video/mp2t", FileCategory.video),
        _type("3gp", "video/3gpp", FileCategory.video),
        _type("wmv", "video/x-ms-wmv", FileCategory.video),
        _type("ogv", "video/ogg", FileCategory.video),
        _type("mpg", "video/mpeg", FileCategory.video),
        _type("pdf", "application/pdf", FileCategory.document),
        _type("docx", f"{_OOXML}.wordprocessingml.document", FileCategory.document),
        _type("pptx", f"{_OOXML}.presentationml.presentation", FileCategory.document),
        _type("xlsx", f"{_OOXML}.spreadsheetml.sheet", FileCategory.document),
        _type("doc", "application/msword", FileCategory.document),
        _type("ppt", "application/vnd.ms-powerpoint", FileCategory.document),
        _type("xls", "application/vnd.ms-excel", FileCategory.document),
        _type("jpeg", "image/jpeg", FileCategory.image, ".jpg"),
        _type("png", "image/png", FileCategory.image),
        _type("gif", "image/gif", FileCategory.image),
        _type("webp", "image/webp", FileCategory.image),
        _type("mp3", "audio/mpeg", FileCategory.audio),
        _type("m4a", "audio/mp4", FileCategory.audio),
        _type("wav", "audio/wav", FileCategory.audio),
        _type("ogg", "audio/ogg", FileCategory.audio),
        # SRT has no registered type; this is the one servers and players agree on. No charset:
        # SRT files from Chinese tools are often GB18030.
        _type("srt", "application/x-subrip", FileCategory.subtitle),
        # WebVTT is UTF-8 by definition.
        _type("vtt", "text/vtt; charset=utf-8", FileCategory.subtitle),
    )
}


def detect_file_type(head: bytes, filename: str) -> DetectedType | None:
    """The type of a file from (up to SNIFF_BYTES of) its first bytes, or None if unsupported.

    ``filename`` is the client's name; it only chooses between formats the bytes fit equally well.
    """
    head = head[:SNIFF_BYTES]
    if not head:
        return None
    format = _detect_format(head, _extension(filename))
    return TYPES[format] if format is not None else None


def _detect_format(head: bytes, extension: str) -> str | None:
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "gif"
    if head.startswith(b"RIFF") and head[8:12] == b"WEBP":
        return "webp"
    if head.startswith(b"%PDF-"):
        return "pdf"
    if head.startswith(b"RIFF") and head[8:12] == b"WAVE":
        return "wav"
    if head.startswith(b"OggS"):
        return "ogg"
    if head.startswith(b"ID3") or _mp3_frame(head):
        return "mp3"
    if head.startswith(b"PK\x03\x04"):
        return _ooxml_format(head, extension)
    if head.startswith(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"):
        # Word, PowerPoint and Excel 97-2003 share the OLE container; which streams it holds is only
        # known from its directory, usually beyond the sniffed bytes. Password-protected OOXML files
        # are OLE containers too: named .docx etc. they stay undetected, as they can't be read anyway.
        return extension if extension in ("doc", "ppt", "xls") else None
    if head[4:8] == b"ftyp":
        return _iso_bmff_format(head)
    if head[4:8] in _LEGACY_QUICKTIME_ATOMS and struct.unpack(">I", head[:4])[0] >= 8:
        # QuickTime files written before ftyp existed start straight with their atoms.
        return "mov"
    if head.startswith(_EBML_MAGIC):
        return {"webm": "webm", "matroska": "mkv"}.get(_ebml_doctype(head) or "")
    video = _other_video_format(head)
    if video is not None:
        return video
    # Acrobat, pdf.js and pypdf accept a header anywhere in the first KiB (mail and HTTP tools prepend
    # junk), and so do we, unless what comes before it is markup: a page with "%PDF-" in a comment is
    # an HTML/PDF polyglot, meant to be rendered as a page by whatever sniffs it.
    header_at = head.find(b"%PDF-", 0, 1024)
    if header_at >= 0 and b"<" not in head[:header_at]:
        return "pdf"
    return _text_format(head)


def served_filename(filename: str, format: str) -> str:
    """The name a file is served under: its own, with an extension that says what its bytes are, so a
    PDF uploaded as ``x.html`` is saved (and opened) as ``x.pdf``, never as a page."""
    detected = TYPES.get(format)
    if detected is None:
        return filename
    stem, dot, extension = filename.rpartition(".")
    if dot and f".{extension.lower()}" in {detected.extension, f".{detected.format}"}:
        return filename
    return (stem if dot and stem else filename) + detected.extension


def _mp3_frame(head: bytes) -> bool:
    """An MPEG audio layer III frame header without ID3 tag: 11 sync bits, layer bits 01, and a valid
    bitrate. Layer III only, so a UTF-16 byte-order mark (FF FE) never passes for audio."""
    return (
        len(head) >= 4
        and head[0] == 0xFF
        and head[1] & 0xE0 == 0xE0
        and head[1] & 0x06 == 0x02
        and head[2] & 0xF0 not in (0x00, 0xF0)
    )


def _extension(filename: str) -> str:
    # Old browsers send the full Windows path.
    name = filename.replace("\\", "/").rsplit("/", 1)[-1]
    return name.rsplit(".", 1)[-1].lower() if "." in name else ""


# -- ZIP / Office Open XML ------------------------------------------------------------------------

_LOCAL_HEADER = struct.Struct("<4sHHHHHIIIHH")
_DATA_DESCRIPTOR_FLAG = 0x08
_PART_FOLDERS = {"word/": "docx", "ppt/": "pptx", "xl/": "xlsx"}
# Main-part content types of the plain documents. Templates, slide shows and macro-enabled files
# have other ones and are left out: the extractors refuse them.
_MAIN_CONTENT_TYPES = {
    b"wordprocessingml.document.main+xml": "docx",
    b"presentationml.presentation.main+xml": "pptx",
    b"spreadsheetml.sheet.main+xml": "xlsx",
}
_MAX_CONTENT_TYPES_BYTES = 256 * 1024


def _ooxml_format(head: bytes, extension: str) -> str | None:
    """docx/pptx/xlsx from the ZIP entries visible in ``head``.

    [Content_Types].xml (normally the first entry) names the main part's type outright when it is
    fully inside ``head``; otherwise the folders of the part names tell.
    """
    content_types: bytes | None = None
    by_folder: set[str] = set()
    for name, method, data in _zip_local_entries(head):
        if name == "[Content_Types].xml" and data is not None:
            content_types = _inflate(method, data)
        for folder, format in _PART_FOLDERS.items():
            if name.startswith(folder):
                by_folder.add(format)
    if content_types is not None:
        main = {fmt for marker, fmt in _MAIN_CONTENT_TYPES.items() if marker in content_types}
        if len(main) == 1:
            return main.pop()
        if not main and b".main+xml" in content_types:
            return None
    if len(by_folder) == 1:
        return by_folder.pop()
    if extension in by_folder:
        return extension
    return None


def _zip_local_entries(head: bytes) -> list[tuple[str, int, bytes | None]]:
    """(name, compression method, compressed data if wholly in ``head``) of the leading entries.

    Sizes are skipped as the headers state them; entries streamed with a data descriptor have no
    size up front, so the next header is searched for instead.
    """
    entries: list[tuple[str, int, bytes | None]] = []
    offset = 0
    while offset + _LOCAL_HEADER.size <= len(head):
        fields = _LOCAL_HEADER.unpack_from(head, offset)
        signature, _version, flags, method = fields[:4]
        compressed_size, name_length, extra_length = fields[7], fields[9], fields[10]
        if signature != b"PK\x03\x04":
            break
        name_start = offset + _LOCAL_HEADER.size
        data_start = name_start + name_length + extra_length
        if name_start + name_length > len(head):
            break
        name = head[name_start : name_start + name_length].decode("utf-8", "replace")
        sized = not flags & _DATA_DESCRIPTOR_FLAG and compressed_size != 0xFFFFFFFF
        data_end = data_start + compressed_size
        data = head[data_start:data_end] if sized and data_end <= len(head) else None
        entries.append((name, method, data))
        if sized:
            offset = data_end
        else:
            found = head.find(b"PK\x03\x04", data_start)
            if found < 0:
                break
            offset = found
    return entries


def _inflate(method: int, data: bytes) -> bytes | None:
    if method == 0:
        return data[:_MAX_CONTENT_TYPES_BYTES]
    if method != 8:
        return None
    try:
        # Bounded output: a tiny entry must not expand into memory without limit.
        return zlib.decompressobj(-zlib.MAX_WBITS).decompress(data, _MAX_CONTENT_TYPES_BYTES)
    except zlib.error:
        return None


# -- ISO base media (MP4 / QuickTime) -------------------------------------------------------------

_QUICKTIME_BRAND = b"qt  "
_MP4_BRANDS = frozenset(
    {b"isom", b"iso2", b"iso3", b"iso4", b"iso5", b"iso6", b"iso8", b"iso9", b"mp41", b"mp42", b"avc1"}
    | {b"M4V ", b"M4VH", b"M4VP", b"dash", b"mmp4", b"MSNV", b"f4v ", b"XAVC"}
)
# Files whose main brand says they are not video, though they list MP4 brands as compatible.
_NON_VIDEO_BRANDS = frozenset(
    {b"M4A ", b"M4B ", b"M4P ", b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1"}
    | {b"avif", b"avis", b"crx "}
)
_AUDIO_BRANDS = frozenset({b"M4A ", b"M4B "})
_LEGACY_QUICKTIME_ATOMS = frozenset({b"moov", b"mdat", b"wide", b"free", b"skip"})


def _iso_bmff_format(head: bytes) -> str | None:
    box_size = struct.unpack(">I", head[:4])[0]
    if box_size < 16:
        return None
    major = head[8:12]
    if major.startswith((b"3gp", b"3g2")):
        return "3gp"
    compatible = {head[i : i + 4] for i in range(16, min(box_size, len(head)) - 3, 4)}
    if major == _QUICKTIME_BRAND:
        return "mov"
    if major in _AUDIO_BRANDS:
        return "m4a"
    if major in _NON_VIDEO_BRANDS:
        return None
    if major in _MP4_BRANDS or compatible & _MP4_BRANDS:
        return "mp4"
    if _QUICKTIME_BRAND in compatible:
        return "mov"
    return None


# -- Other video containers ---------------------------------------------------------------------

_ASF_HEADER_GUID = bytes.fromhex("3026b2758e66cf11a6d900aa0062ce6c")
_TS_PACKET = 188
_M2TS_PACKET = 192
_TS_PACKETS_CHECKED = 8
_MPEG_PACK_START = b"\x00\x00\x01\xba"
# Ogg pages are audio unless a video codec's identification header is among the first ones.
_OGG_VIDEO_HEADERS = (b"\x80theora", b"OVP80", b"\x80daala")


def _other_video_format(head: bytes) -> str | None:
    if head.startswith(b"FLV\x01"):
        return "flv"
    if head.startswith(b"RIFF") and head[8:12] == b"AVI ":
        return "avi"
    if head.startswith(_ASF_HEADER_GUID):
        # Windows Media: .wmv and .wma share the container; an audio-only one fails at probing.
        return "wmv"
    if head.startswith(b"OggS"):
        return "ogv" if any(marker in head for marker in _OGG_VIDEO_HEADERS) else None
    if head.startswith(_MPEG_PACK_START):
        return "mpg"
    if _is_transport_stream(head, _TS_PACKET, 0) or _is_transport_stream(head, _M2TS_PACKET, 4):
        # MPEG-TS (.ts, broadcast and 录播 systems) and BDAV (.mts/.m2ts from AVCHD camcorders).
        return "ts"
    return None


def _is_transport_stream(head: bytes, packet: int, offset: int) -> bool:
    """A sync byte at the start of each of the first packets; one lone 0x47 proves nothing."""
    checked = min(_TS_PACKETS_CHECKED, (len(head) - offset) // packet)
    return checked >= 3 and all(head[offset + index * packet] == 0x47 for index in range(checked))


# -- EBML (Matroska / WebM) ----------------------------------------------------------------------

_EBML_MAGIC = b"\x1a\x45\xdf\xa3"
_EBML_DOCTYPE_ID = 0x4282


def _ebml_doctype(head: bytes) -> str | None:
    """DocType of the EBML header ("webm", "matroska"), read element by element."""
    size_and_start = _ebml_vint(head, len(_EBML_MAGIC), keep_marker=False)
    if size_and_start is None:
        return None
    header_size, offset = size_and_start
    end = min(offset + header_size, len(head))
    while offset < end:
        element = _ebml_vint(head, offset, keep_marker=True)
        if element is None:
            return None
        element_id, offset = element
        size_and_start = _ebml_vint(head, offset, keep_marker=False)
        if size_and_start is None:
            return None
        size, offset = size_and_start
        if element_id == _EBML_DOCTYPE_ID:
            return head[offset : offset + size].rstrip(b"\x00").decode("ascii", "replace")
        offset += size
    return None


def _ebml_vint(data: bytes, offset: int, *, keep_marker: bool) -> tuple[int, int] | None:
    """A variable-length integer at ``offset`` and the offset after it."""
    if offset >= len(data) or data[offset] == 0:
        return None
    first = data[offset]
    length = 8 - first.bit_length() + 1
    if offset + length > len(data):
        return None
    value = first if keep_marker else first & ((1 << (8 - length)) - 1)
    for byte in data[offset + 1 : offset + length]:
        value = (value << 8) | byte
    return value, offset + length


# -- Subtitles -----------------------------------------------------------------------------------

_UTF8_BOM = b"\xef\xbb\xbf"
_SRT_INDEX = re.compile(r"\d+")
# The comma is SRT's; some tools write VTT's dot into .srt files and every player accepts it.
_SRT_TIMING = re.compile(
    r"\d{1,2}:[0-5]\d:[0-5]\d[,.]\d{1,3}\s*-->\s*\d{1,2}:[0-5]\d:[0-5]\d[,.]\d{1,3}(\s.*)?"
)


def _text_format(head: bytes) -> str | None:
    if re.match(rb"(\xef\xbb\xbf)?WEBVTT([ \t\r\n]|$)", head):
        return "vtt"
    text = _decode_text(head)
    if text is None:
        return None
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    # Cue numbers are optional in practice: players, and our parser, read cues without them.
    if lines and _SRT_TIMING.fullmatch(lines[0]):
        return "srt"
    if len(lines) >= 2 and _SRT_INDEX.fullmatch(lines[0]) and _SRT_TIMING.fullmatch(lines[1]):
        return "srt"
    return None


_UTF16_BOMS = {b"\xff\xfe": "utf-16-le", b"\xfe\xff": "utf-16-be"}


def _decode_text(data: bytes) -> str | None:
    """UTF-8, GB18030 (which Big5 bytes also decode as, for sniffing) or UTF-16 with a byte order
    mark; ``data`` may end inside a character where the sniffed bytes were cut."""
    for bom, encoding in _UTF16_BOMS.items():
        if data.startswith(bom):
            try:
                text = codecs.getincrementaldecoder(encoding)().decode(data[2:], final=False)
            except UnicodeDecodeError:
                return None
            return None if "\x00" in text else text
    data = data.removeprefix(_UTF8_BOM)
    if b"\x00" in data:
        return None
    for encoding in ("utf-8", "gb18030"):
        try:
            return codecs.getincrementaldecoder(encoding)().decode(data, final=False)
        except UnicodeDecodeError:
            continue
    return None


_ANY_TIMING = re.compile(r"\d{1,2}:[0-5]\d:[0-5]\d[,.]\d{1,3}\s*-->")


def looks_like_undecodable_subtitles(head: bytes) -> bool:
    """Bytes that carry SRT timing lines but in a text encoding we do not read (UTF-16 without a byte
    order mark, UTF-32, …): worth an honest message rather than "not a file type we accept"."""
    head = head[:SNIFF_BYTES]
    if _decode_text(head) is not None:
        return False
    for encoding in ("latin-1", "utf-16-le", "utf-16-be", "utf-32-le", "utf-32-be"):
        usable = head[: len(head) - len(head) % 4]
        if _ANY_TIMING.search(usable.decode(encoding, errors="ignore").replace("\x00", "")):
            return True
    return False
