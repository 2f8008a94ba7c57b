DROP TABLE notes_search;
