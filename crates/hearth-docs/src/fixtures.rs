//! Small real documents made on the spot, for tests here and in the crates that ingest them
//! (feature `fixtures`): a PDF with a text layer per page, a password-protected PDF, a DOCX
//! with headings, and a DOCX that expands without end (a zip bomb).

use std::io::Write as _;

/// A PDF whose page `i` shows the text `pages[i]` (one line, Helvetica), with a correct
/// cross-reference table.
pub fn pdf(pages: &[&str]) -> Vec<u8> {
    pdf_with(pages, None)
}

/// A PDF encrypted with the standard security handler and a user password: it cannot be
/// read without one.
pub fn encrypted_pdf() -> Vec<u8> {
    // /O and /U of a document whose user password is not empty: decrypting with "" fails.
    let encrypt = "<< /Filter /Standard /V 1 /R 2 /Length 40 /P -44 \
                   /O <5d3e1e6d6f2b1a0b4c3a2f1e0d9c8b7a6f5e4d3c2b1a09182736455463728190> \
                   /U <0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20> >>";
    pdf_with(&["secret text"], Some(encrypt))
}

fn pdf_with(pages: &[&str], encrypt: Option<&str>) -> Vec<u8> {
    let n = pages.len();
    // Objects: 1 catalog, 2 pages, 3 font, then per page: a page and its content stream.
    let mut objects: Vec<String> = Vec::new();
    objects.push("<< /Type /Catalog /Pages 2 0 R >>".into());
    let kids: Vec<String> = (0..n).map(|i| format!("{} 0 R", 4 + 2 * i)).collect();
    objects.push(format!("<< /Type /Pages /Kids [{}] /Count {n} >>", kids.join(" ")));
    objects.push("<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>".into());
    for (i, text) in pages.iter().enumerate() {
        let escaped = text.replace('\\', "\\\\").replace('(', "\\(").replace(')', "\\)");
        let content = format!("BT /F1 12 Tf 72 720 Td ({escaped}) Tj ET");
        objects.push(format!(
            "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents {} 0 R /Resources << /Font << /F1 3 0 R >> >> >>",
            5 + 2 * i
        ));
        objects.push(format!("<< /Length {} >>\nstream\n{content}\nendstream", content.len()));
    }
    if let Some(e) = encrypt {
        objects.push(e.to_owned());
    }
    let mut out = b"%PDF-1.4\n%\xE2\xE3\xCF\xD3\n".to_vec();
    let mut offsets = Vec::new();
    for (i, body) in objects.iter().enumerate() {
        offsets.push(out.len());
        out.extend_from_slice(format!("{} 0 obj\n{body}\nendobj\n", i + 1).as_bytes());
    }
    let xref = out.len();
    out.extend_from_slice(format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).as_bytes());
    for o in offsets {
        out.extend_from_slice(format!("{o:010} 00000 n \n").as_bytes());
    }
    let encrypt_ref = if encrypt.is_some() {
        format!(" /Encrypt {} 0 R /ID [<00112233445566778899aabbccddeeff> <00112233445566778899aabbccddeeff>]", objects.len())
    } else {
        String::new()
    };
    out.extend_from_slice(
        format!("trailer\n<< /Size {} /Root 1 0 R{encrypt_ref} >>\nstartxref\n{xref}\n%%EOF\n", objects.len() + 1).as_bytes(),
    );
    out
}

/// A DOCX of `paragraphs`, each with its heading level (0 for body text).
pub fn docx(paragraphs: &[(u8, &str)]) -> Vec<u8> {
    let body: String = paragraphs
        .iter()
        .map(|(level, text)| {
            let style = if *level > 0 { format!("<w:pPr><w:pStyle w:val=\"Heading{level}\"/></w:pPr>") } else { String::new() };
            let text = text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;");
            format!("<w:p>{style}<w:r><w:t xml:space=\"preserve\">{text}</w:t></w:r></w:p>")
        })
        .collect();
    let xml = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\
         <w:document xmlns:w=\"http://schemas.openxmlformats.org/wordprocessingml/2006/main\"><w:body>{body}</w:body></w:document>"
    );
    zip_of(&[("[Content_Types].xml", CONTENT_TYPES.as_bytes()), ("word/document.xml", xml.as_bytes())])
}

/// A DOCX whose document part expands to `expanded` bytes (spaces: they compress about a
/// thousand to one).
pub fn docx_bomb(expanded: u64) -> Vec<u8> {
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated).large_file(true);
    zip.start_file("word/document.xml", options).expect("a zip entry starts");
    let block = vec![b' '; 1 << 20];
    let mut left = expanded;
    while left > 0 {
        let n = left.min(block.len() as u64) as usize;
        zip.write_all(&block[..n]).expect("writing to memory");
        left -= n as u64;
    }
    zip.finish().expect("the zip closes").into_inner()
}

const CONTENT_TYPES: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\
    <Types xmlns=\"http://schemas.openxmlformats.org/package/2006/content-types\">\
    <Default Extension=\"xml\" ContentType=\"application/xml\"/>\
    <Override PartName=\"/word/document.xml\" ContentType=\"application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml\"/>\
    </Types>";

fn zip_of(entries: &[(&str, &[u8])]) -> Vec<u8> {
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
    for (name, bytes) in entries {
        zip.start_file(*name, options).expect("a zip entry starts");
        zip.write_all(bytes).expect("writing to memory");
    }
    zip.finish().expect("the zip closes").into_inner()
}
