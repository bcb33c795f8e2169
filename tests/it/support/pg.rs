//! A PostgreSQL schema of its own for a test (the server at 127.0.0.1:5432, or
//! `STORE_TEST_POSTGRES_URL`), so tests sharing the database never see each other's rows.

/// The database tests use.
fn base_url() -> String {
    std::env::var("STORE_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned())
}

/// A fresh schema; [`Schema::drop_now`] removes it with everything in it.
pub struct Schema {
    name: String,
}

impl Schema {
    pub async fn create() -> Self {
        let name = format!("it_{}", uuid::Uuid::new_v4().simple());
        Self::run(&format!("CREATE SCHEMA {name}")).await;
        Self { name }
    }

    /// The store URL whose connections use this schema.
    pub fn url(&self) -> String {
        let base = base_url();
        let sep = if base.contains('?') { '&' } else { '?' };
        format!("{base}{sep}options=-c%20search_path%3D{}", self.name)
    }

    pub async fn drop_now(self) {
        Self::run(&format!("DROP SCHEMA {} CASCADE", self.name)).await;
    }

    async fn run(sql: &str) {
        use sqlx::Connection as _;
        let mut connection = sqlx::PgConnection::connect(&base_url())
            .await
            .expect("PostgreSQL at 127.0.0.1:5432 (database test, user postgres)");
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_owned()))
            .execute(&mut connection)
            .await
            .unwrap();
        connection.close().await.unwrap();
    }
}
