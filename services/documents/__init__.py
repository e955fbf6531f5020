"""Reading documents as a person does: PDF text through PDFium, a judgement of whether extracted text
is readable, and OCR of scans, photos and pages whose text layer is garbage."""
