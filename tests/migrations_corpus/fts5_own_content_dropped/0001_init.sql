CREATE VIRTUAL TABLE notes_search USING fts5(title, body);
