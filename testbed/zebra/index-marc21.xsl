<?xml version="1.0" encoding="UTF-8"?>
<!-- Bib-1 indexes for MARC21 records stored as MARCXML (Zebra DOM filter extract). -->
<xsl:stylesheet xmlns:xsl="http://www.w3.org/1999/XSL/Transform"
                xmlns:z="http://indexdata.com/zebra-2.0"
                xmlns:marc="http://www.loc.gov/MARC21/slim"
                version="1.0">
  <xsl:include href="common.xsl"/>
  <xsl:output indent="no" method="xml" version="1.0" encoding="UTF-8"/>
  <xsl:template match="text()"/>

  <xsl:template match="/">
    <xsl:apply-templates select="//marc:record"/>
  </xsl:template>

  <xsl:template match="marc:record">
    <z:record z:type="update">
      <xsl:if test="normalize-space(marc:controlfield[@tag='001']) != ''">
        <xsl:attribute name="z:id"><xsl:value-of select="normalize-space(marc:controlfield[@tag='001'])"/></xsl:attribute>
      </xsl:if>
      <xsl:call-template name="local-number"/>
      <xsl:call-template name="last-modified"/>
      <xsl:for-each select="marc:datafield[@tag='245']">
        <xsl:call-template name="emit"><xsl:with-param name="name" select="'Title:w Title:p'"/>
          <xsl:with-param name="codes" select="'abnp'"/></xsl:call-template>
        <xsl:call-template name="emit"><xsl:with-param name="name" select="'Title:s'"/>
          <xsl:with-param name="codes" select="'a'"/></xsl:call-template>
        <!-- the statement of responsibility is an author access point in OPACs (stock marc21.abs, Koha) -->
        <xsl:call-template name="emit"><xsl:with-param name="name" select="'Author:w Author:p'"/>
          <xsl:with-param name="codes" select="'c'"/></xsl:call-template>
      </xsl:for-each>
      <!-- what an OPAC's title, author and subject indexes cover; an 880 counts as the field it renders -->
      <xsl:for-each select="marc:datafield">
        <xsl:variable name="t">
          <xsl:choose>
            <xsl:when test="@tag = '880'"><xsl:value-of select="substring(marc:subfield[@code='6'], 1, 3)"/></xsl:when>
            <xsl:otherwise><xsl:value-of select="@tag"/></xsl:otherwise>
          </xsl:choose>
        </xsl:variable>
        <xsl:variable name="title-codes">
          <xsl:choose>
            <xsl:when test="$t = '245' and @tag = '880'">abnp</xsl:when>
            <xsl:when test="$t = '130' or $t = '730'">adfgklmnoprst</xsl:when>
            <xsl:when test="$t = '240' or $t = '243'">adfgklmnoprs</xsl:when>
            <xsl:when test="$t = '242'">abnp</xsl:when>
            <xsl:when test="$t = '246' or $t = '247'">abfgnp</xsl:when>
            <xsl:when test="$t = '440'">anpv</xsl:when>
            <xsl:when test="$t = '490'">av</xsl:when>
            <xsl:when test="$t = '740'">anp</xsl:when>
            <xsl:when test="$t = '830'">adfgklmnoprstv</xsl:when>
          </xsl:choose>
        </xsl:variable>
        <xsl:if test="$title-codes != ''">
          <xsl:call-template name="emit"><xsl:with-param name="name" select="'Title:w Title:p'"/>
            <xsl:with-param name="codes" select="$title-codes"/></xsl:call-template>
        </xsl:if>
        <xsl:if test="string-length($t) = 3 and contains('678', substring($t, 1, 1)) and $t != '630' and $t != '730' and $t != '740'
                      and $t != '830' and marc:subfield[@code='t']">
          <xsl:call-template name="emit-name-title"><xsl:with-param name="name" select="'Title:w Title:p'"/></xsl:call-template>
        </xsl:if>
        <xsl:choose>
          <xsl:when test="$t = '100' or $t = '700' or $t = '800'">
            <xsl:call-template name="emit-name"><xsl:with-param name="name" select="'Author:w Author:p Personal-name:w Personal-name:p'"/>
              <xsl:with-param name="codes" select="'abcdq'"/></xsl:call-template>
          </xsl:when>
          <xsl:when test="$t = '110' or $t = '710' or $t = '810'">
            <xsl:call-template name="emit-name"><xsl:with-param name="name" select="'Author:w Author:p'"/>
              <xsl:with-param name="codes" select="'abcdn'"/></xsl:call-template>
          </xsl:when>
          <xsl:when test="$t = '111' or $t = '711' or $t = '811'">
            <xsl:call-template name="emit-name"><xsl:with-param name="name" select="'Author:w Author:p'"/>
              <xsl:with-param name="codes" select="'acdn'"/></xsl:call-template>
          </xsl:when>
          <xsl:when test="$t = '720'">
            <xsl:call-template name="emit-name"><xsl:with-param name="name" select="'Author:w Author:p'"/>
              <xsl:with-param name="codes" select="'a'"/></xsl:call-template>
          </xsl:when>
          <xsl:when test="substring($t, 1, 1) = '6'">
            <xsl:call-template name="emit"><xsl:with-param name="name" select="'Subject-heading:w Subject-heading:p'"/>
              <xsl:with-param name="codes" select="'abcdfgklmnopqrstvxyz'"/></xsl:call-template>
          </xsl:when>
        </xsl:choose>
      </xsl:for-each>
      <xsl:for-each select="marc:datafield[@tag='020']/marc:subfield[@code='a']">
        <xsl:call-template name="stdnum"><xsl:with-param name="name" select="'ISBN'"/></xsl:call-template>
      </xsl:for-each>
      <xsl:for-each select="marc:datafield[@tag='022']/marc:subfield[@code='a']">
        <xsl:call-template name="stdnum"><xsl:with-param name="name" select="'ISSN'"/></xsl:call-template>
      </xsl:for-each>
      <xsl:for-each select="marc:datafield[@tag='260' or @tag='264'
                            or (@tag='880' and (starts-with(marc:subfield[@code='6'], '260')
                                                or starts-with(marc:subfield[@code='6'], '264')))]">
        <xsl:call-template name="emit"><xsl:with-param name="name" select="'Publisher:w Publisher:p'"/>
          <xsl:with-param name="codes" select="'b'"/></xsl:call-template>
      </xsl:for-each>
      <xsl:choose>
        <xsl:when test="translate(substring(marc:controlfield[@tag='008'], 8, 4), '0123456789', '') = ''
                        and string-length(marc:controlfield[@tag='008']) &gt;= 11">
          <xsl:call-template name="year">
            <xsl:with-param name="text" select="substring(marc:controlfield[@tag='008'], 8, 4)"/>
          </xsl:call-template>
        </xsl:when>
        <xsl:otherwise>
          <xsl:call-template name="year">
            <xsl:with-param name="text" select="(marc:datafield[@tag='260' or @tag='264']/marc:subfield[@code='c'])[1]"/>
          </xsl:call-template>
        </xsl:otherwise>
      </xsl:choose>
      <xsl:call-template name="any"/>
    </z:record>
  </xsl:template>
</xsl:stylesheet>
